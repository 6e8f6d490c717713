void f(struct s *s)
{
	spin_lock(&s->l);
	{{{{
	spin_unlock(&s->l);
}
}}}}}}
