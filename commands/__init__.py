"""The ``hotline`` command line (``main``): ``serve`` and ``demo`` (run by ``hotline.run``),
``config``, the menu tools (``menudesk.cli``), ``prompts build`` (``prompts``), the hospital's
booking tools (``bookings``) and the console's accounts (``users``). Exit codes are listed in
``main``'s docstring and in each command's module."""
