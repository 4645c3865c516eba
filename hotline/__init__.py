"""hotline: the composition root. Only this package knows every other one."""
