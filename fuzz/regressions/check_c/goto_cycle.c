void f(struct s *s)
{
again:
	spin_lock(&s->l);
	if (s->x)
		goto again;
	goto out;
out:
	spin_unlock(&s->l);
	goto again;
}
