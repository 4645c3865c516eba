"""hotline's settings: one typed schema (``schema``), checked before anything starts, and the
settings reference generated from it (``reference``, ``hotline config reference`` →
docs/settings.md). Who reads a key is the wiring's business; this package imports only the
node's own parsers (worker count, GC)."""
