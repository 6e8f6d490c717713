void f(void)
{
	char *p = "ÿþÃ(";
	mutex_lock(&â‚);
}
