"""Menu definitions: frozen values loaded from ``config/menus/*.yaml`` and validated on load.

Loading is strict, as in goflow: a definition that loads is one the engine can run (every target
exists, every declared language has its text, every validator is known), and each problem is
reported as ``file:line:col: node 'x': why``. The YAML language is documented in docs/menus.md.

This is the package's public face: ``load_menu`` and ``MenuSource`` live here, the values
(nodes, ``Keys``, ``MenuDefinition``, the standard messages) in ``menus._model``, re-exported.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

from menus._loader import parse_menu
from menus._model import (
    BACK_TARGET,
    BUILTIN_ENDS,
    BUILTIN_VARS,
    DEFAULT_MESSAGES,
    KNOWN_VALIDATORS,
    PAGING_KEYS,
    ActNode,
    AskNode,
    Case,
    Choice,
    DigitsSpec,
    EndNode,
    Keys,
    MenuDefinition,
    Node,
    RouteNode,
    SayNode,
)
from menus.errors import MenuError

__all__ = [
    "BACK_TARGET",
    "BUILTIN_ENDS",
    "BUILTIN_VARS",
    "DEFAULT_MESSAGES",
    "KNOWN_VALIDATORS",
    "PAGING_KEYS",
    "ActNode",
    "AskNode",
    "Case",
    "Choice",
    "DigitsSpec",
    "EndNode",
    "Keys",
    "MenuDefinition",
    "MenuError",
    "MenuSource",
    "Node",
    "RouteNode",
    "SayNode",
    "load_menu",
    "load_menu_sources",
    "load_menu_text",
]


def load_menu(path: str | Path) -> MenuDefinition:
    """Load and validate one menu file; raises MenuError naming ``path:line:col``."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise MenuError(f"{path}: cannot read menu: {err.strerror}") from err
    return load_menu_bytes(data, str(path))


def load_menu_text(text: str, filename: str = "<menu>") -> MenuDefinition:
    return load_menu_bytes(text.encode("utf-8"), filename)


def load_menu_bytes(data: bytes, filename: str) -> MenuDefinition:
    """Parse menu bytes; ``include:`` files are read relative to ``filename``'s directory."""
    return parse_menu(data, filename)


def load_menu_sources(sources: Sequence[tuple[str, bytes]]) -> MenuDefinition:
    """Rebuild a version from the ``sources`` it was loaded from (``MenuDefinition.sources``:
    the menu file first, then its includes), without reading the disk; the same bytes give
    the same version."""
    if not sources:
        raise MenuError("no menu sources")
    stored = {str(Path(name)): data for name, data in sources}

    def read(path: Path) -> bytes:
        try:
            return stored[str(path)]
        except KeyError:
            raise FileNotFoundError(2, "not among the stored sources", str(path)) from None

    filename, data = sources[0]
    return parse_menu(data, filename, read)


class MenuSource:
    """Menus by name. Old versions are kept so sessions started before a reload can finish.

    Built from definitions or from a ``{name: definition}`` mapping; ``definitions`` gives the
    latest of each, so a reload is ``MenuSource({**old.definitions, new.name: new})`` or
    ``source.add(new)``.
    """

    def __init__(
        self, definitions: Mapping[str, MenuDefinition] | Iterable[MenuDefinition] = ()
    ) -> None:
        self._latest: dict[str, MenuDefinition] = {}
        self._versions: dict[tuple[str, str], MenuDefinition] = {}
        items = definitions.values() if isinstance(definitions, Mapping) else definitions
        for definition in items:
            self.add(definition)

    @classmethod
    def from_paths(cls, paths: Iterable[str | Path]) -> MenuSource:
        return cls([load_menu(p) for p in paths])

    def add(self, definition: MenuDefinition) -> None:
        """Make ``definition`` the current version of its menu (a hot reload)."""
        if not isinstance(definition, MenuDefinition):
            raise TypeError(f"MenuSource holds MenuDefinition values, not {definition!r}")
        self._latest[definition.name] = definition
        self._versions[(definition.name, definition.version)] = definition

    def keep(self, definition: MenuDefinition) -> None:
        """Hold ``definition`` as a version sessions may ask for, without making it the
        current one (a version another node or an earlier process started dialogues on)."""
        self._versions.setdefault((definition.name, definition.version), definition)

    def has(self, name: str, version: str) -> bool:
        return (name, version) in self._versions

    def versions(self) -> list[MenuDefinition]:
        """Every version held, the current ones included."""
        return list(self._versions.values())

    def get(self, name: str, version: str | None = None) -> MenuDefinition:
        """The given version if still held, else the latest; KeyError for an unknown menu."""
        if version is not None and (name, version) in self._versions:
            return self._versions[(name, version)]
        if name not in self._latest:
            raise KeyError(f"no menu named {name!r}")
        return self._latest[name]

    @property
    def definitions(self) -> dict[str, MenuDefinition]:
        """The latest definition of each menu, by name (a copy)."""
        return dict(self._latest)

    def __getitem__(self, name: str) -> MenuDefinition:
        return self.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._latest

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._latest))

    def __len__(self) -> int:
        return len(self._latest)
