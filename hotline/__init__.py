"""hotline: the composition root. It builds the service tree from the settings once, at start-up,
and knows every other package; only the command line (``commands``) sits above it."""
