"""The shipped defaults: this folder is installed as the package ``hotline.defaults``.

The files here (settings example, menus, catalog, SMS templates) are read through
``importlib.resources`` when a settings file does not name its own (pyproject.toml maps the
folder; settings/schema.py reads it).
"""
