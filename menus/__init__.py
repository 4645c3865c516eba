"""menus: the YAML menu language, its loader, the pure engine and the async driver.

Import the parts directly: ``menus.definition.load_menu``, ``menus.engine.step``,
``menus.driver.Dialogue`` (channels code against its protocol ``menus.driver.DialogueLike``);
``menus.types`` holds the values that cross to the channels.
"""
