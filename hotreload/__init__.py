"""Hot reload of what operators edit, the menus and the hospitals' files (``reloaders``): watch,
load and check, then swap; a broken edit is logged with ``file:line`` and never takes the line
down. What a loaded platform is handed to (booking, the SMS renderer) the wiring decides."""
