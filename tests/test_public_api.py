"""``booking``, ``menus`` and ``sms`` each name their public API in ``__all__``: what the other
packages import from them, and nothing else re-exported."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("booking", "menus", "sms")
OTHERS = ("hotline", "ussd", "ivr", "booking", "menus", "sms", "pii")


def imported_from(package: str) -> set[tuple[str, str]]:
    """(module, name) that the other packages import from ``package`` or its modules."""
    names: set[tuple[str, str]] = set()
    for other in OTHERS:
        if other == package:
            continue
        for path in (ROOT / other).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and (
                    node.module == package or node.module.startswith(package + ".")
                ):
                    names.update((node.module, alias.name) for alias in node.names)
    return names


def reexported(package: str) -> set[str]:
    """Names the package's ``__init__`` imports from its own modules (at run or check time)."""
    tree = ast.parse((ROOT / package / "__init__.py").read_text(encoding="utf-8"))
    return {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module
        and (node.module == package or node.module.startswith(package + "."))
        for alias in node.names
    }  # fmt: skip


@pytest.mark.parametrize("package", PACKAGES)
def test_all_names_what_other_packages_import(package: str) -> None:
    public = set(importlib.import_module(package).__all__)
    missing = {  # a module named in __all__ (``menus.inspect``) is public as a whole
        name for module, name in imported_from(package)
        if name not in public and module.removeprefix(package + ".") not in public
    }  # fmt: skip
    assert not missing, f"{package}.__all__ lacks {sorted(missing)}"


@pytest.mark.parametrize("package", PACKAGES)
def test_nothing_else_is_reexported_and_every_name_resolves(package: str) -> None:
    module = importlib.import_module(package)
    assert reexported(package) == set(module.__all__)
    for name in module.__all__:
        assert getattr(module, name) is not None
    with pytest.raises(AttributeError):
        module.no_such_name  # noqa: B018


@pytest.mark.parametrize("interface", ["booking.api", "sms.api", "menus.types", "booking"])
def test_an_interface_import_installs_no_reactor(interface: str) -> None:
    """Channels import the interfaces; the global reactor is the composition root's choice."""
    code = f"import sys, {interface}; print('twisted.internet.reactor' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True)  # fmt: skip
    assert out.stdout.strip() == "False"
