"""Imports point one way (docs/architecture.md): a wrong edge fails here, not in review."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OURS = ("hotline", "ivr", "ussd", "menus", "booking", "sms", "pii", "fastpath")
# pii (the one masking of phone and ID numbers) imports nothing of ours; everyone may use it
ALLOWED: dict[str, tuple[str, ...]] = {
    "pii": ("pii",),
    # the fast path (Twisted and txredisapi internals) imports nothing of ours
    "fastpath": ("fastpath",),
    "menus": ("menus", "pii"),
    "booking": ("booking", "pii"),
    "sms": ("sms", "pii"),
    "ussd": ("ussd", "menus", "booking.api", "sms", "pii"),
    "ivr": ("ivr", "menus", "booking.api", "pii", "fastpath.send"),
    "hotline": OURS,
}
# Pure cores: no Twisted, no Redis client, no sockets.
PURE = ("pii", "menus", "booking/rules.py", "booking/idcard.py", "booking/tcode.py",
        "booking/catalog.py", "sms/cmpp/codec.py", "sms/cmpp/core.py")
IMPURE_ROOTS = ("twisted", "txredisapi", "socket", "treq")


def imports_of(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append(node.module)
    return found


def package_files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_point_one_way(package: str) -> None:
    wrong = []
    for path in package_files(package):
        for name in imports_of(path):
            if name.split(".")[0] not in OURS:
                continue
            if not any(name == ok or name.startswith(ok + ".") for ok in ALLOWED[package]):
                wrong.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("target", PURE)
def test_pure_core_has_no_io(target: str) -> None:
    paths = package_files(target) if (ROOT / target).is_dir() else [ROOT / target]
    wrong = [
        f"{p.relative_to(ROOT)} imports {name}"
        for p in paths
        if p.exists()
        for name in imports_of(p)
        if name.split(".")[0] in IMPURE_ROOTS
    ]
    assert not wrong, "\n".join(wrong)
