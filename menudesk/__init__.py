"""The operator's menu desk: check a menu (``check``, ``hotline menus check|graph``: ``cli``),
walk it without a phone in the terminal (``simulate``; a real call through FastAGI and the
Asterisk stand-in: ``simulate_call``) or in the console's sandbox, upload and activate it from
the console (``desk``), and show what a handset or a call would (``render``). The booking runs
for real; what these tools need from the settings, the command line hands them."""
