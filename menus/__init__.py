"""menus."""
