void f(struct s *s, int v)
{
	switch (v) {
	case 1:
		spin_lock(&s->l);
	case 2:
		spin_unlock(&s->l);
		break;
	default:
		switch (v) { case 3: return; }
	}
}
