void f(struct s *s)
{
	guard(
	scoped_guard(spinlock, ) {
		list_for_each_entry(, , ) {
}
