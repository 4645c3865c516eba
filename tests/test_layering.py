"""Imports point one way (docs/architecture.md), and no package imports itself in a circle: a
wrong edge or a loop fails here, not in review."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OURS = ("hotline", "ivr", "ussd", "menus", "booking", "sms", "pii", "phone", "web", "notify",
        "fastpath", "dialogue", "metrics", "node", "settings", "storage", "logs", "menudesk",
        "hotreload", "commands")
# pii (the one masking of phone and ID numbers) and phone (the one normalising of phone numbers)
# import nothing of ours; everyone may use them
ALLOWED: dict[str, tuple[str, ...]] = {
    "pii": ("pii",),
    "phone": ("phone",),
    # the fast path (Twisted and txredisapi internals) imports nothing of ours
    "fastpath": ("fastpath",),
    "menus": ("menus", "pii", "phone"),
    "booking": ("booking", "pii", "phone"),
    "sms": ("sms", "pii", "phone"),
    "ussd": ("ussd", "menus", "booking.api", "sms", "pii", "phone", "fastpath"),
    "ivr": ("ivr", "menus", "booking.api", "pii", "phone", "fastpath.send"),
    # every HTTP surface but the USSD gateways; live speech serves what ivr.live handed Asterisk
    "web": ("web", "booking.api", "sms", "menus", "pii", "phone", "ivr.live", "ivr.prompts"),
    # Prometheus metrics of the node: counters the wiring hands to the other packages
    "metrics": ("metrics",),
    # the booking dialogue: menu effects -> booking calls, shared by USSD and voice
    "dialogue": ("dialogue", "menus", "booking.api", "booking.rules", "pii", "phone"),
    # booking events and MO commands -> SMS
    "notify": ("notify", "booking.api", "sms", "pii", "phone"),
    # a node's processes: supervisor, pipes, shared sockets; what a worker runs is the wiring's
    "node": ("node", "sms.api", "metrics"),
    # the typed settings schema and its reference page; the node's own parsers (workers, GC)
    "settings": ("settings", "node"),
    # Redis as hotline connects to it: client, embedded server, readiness, the storage service
    "storage": ("storage", "settings", "fastpath", "metrics"),
    # log output of a node, masked
    "logs": ("logs", "pii"),
    # the operator's menu tools: check, simulate (terminal, FastAGI, the console's sandbox),
    # upload and activate; booking runs for real, in Redis or the in-memory twin
    "menudesk": ("menudesk", "menus", "booking", "dialogue", "ussd.paging", "ussd.render",
                 "ivr", "web.console.menus", "storage", "pii", "phone"),
    # hot reload of the menu and hospital files: what a new platform is handed to is injected
    "hotreload": ("hotreload", "menus"),
    "hotline": tuple(p for p in OURS if p != "commands"),
    # the command line: starts the composition root, or runs one tool and exits
    "commands": OURS,
}
# Pure cores: no Twisted, no Redis client, no sockets.
PURE = ("pii", "phone", "menus", "booking/rules.py", "booking/idcard.py", "booking/tcode.py",
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


def test_every_package_has_its_rules() -> None:
    on_disk = {init.parent.name for init in ROOT.glob("*/__init__.py")} - {"config"}  # data
    assert on_disk == set(OURS) == set(ALLOWED), "a package needs its line in ALLOWED"


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


# Loops known and owned elsewhere, as (importer, imported) edges; each must still exist.
# None is left; an entry here names a loop to remove, never one to live with.
KNOWN_LOOP_EDGES: set[tuple[str, str]] = set()


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_graph(package: str) -> dict[str, set[str]]:
    """Module -> the modules of the same package it imports, wherever the import stands
    (inside a function or under TYPE_CHECKING too: a loop there is still a loop to read)."""
    modules = {module_name(p): p for p in package_files(package)}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    here = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
                    here = here[: len(here) - node.level + 1]
                    base = ".".join([*here, *([node.module] if node.module else [])])
                # ``from pkg import mod`` imports the module; ``from mod import name`` the module
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base
                           for a in node.names]
            graph[name] |= {t for t in targets if t in modules and t != name}
    return graph


def find_loop(graph: dict[str, set[str]]) -> list[str] | None:
    """One import loop (its modules, the first repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                return [*path[path.index(target):], target]
            if target not in state and (loop := visit(target)):
                return loop
        path.pop()
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state and (loop := visit(module)):
            return loop
    return None


@pytest.mark.parametrize("package", OURS)
def test_no_import_loop_inside_a_package(package: str) -> None:
    graph = package_graph(package)
    for importer, imported in KNOWN_LOOP_EDGES:
        if importer in graph:
            assert imported in graph[importer], f"loop gone: drop {importer} -> {imported}"
            graph[importer].discard(imported)
    loop = find_loop(graph)
    assert loop is None, "import loop: " + " -> ".join(loop or ())


def test_the_loop_check_finds_a_loop() -> None:
    assert find_loop({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_loop({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None
