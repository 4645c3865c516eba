"""Log output of a running node (``output``): one line per event, text or JSON, with phone and
ID numbers masked (``pii``), whichever logger a package uses (``twisted.logger`` or structlog)."""
