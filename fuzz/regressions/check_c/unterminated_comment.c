static DEFINE_SPINLOCK(l);
void f(void)
{
	spin_lock(&l);
/* never closed
