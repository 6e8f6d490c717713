#define LOCK(x) spin_lock(&(x)->l
#define RET return
void f(struct s *s)
{
	LOCK(s);
	RET;
}
#if
#endif
#endif
