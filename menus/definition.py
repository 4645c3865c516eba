"""Menu definitions: frozen values loaded from ``config/menus/*.yaml`` and validated on load.

Loading is strict, as in goflow: a definition that loads is one the engine can run (every target
exists, every declared language has its text, every validator is known), and each problem is
reported as ``file:line:col: node 'x': why``. The YAML language is documented in docs/menus.md.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from menus.errors import MenuError
from menus.template import Template

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
    "load_menu_text",
]

Text = Mapping[str, Template]  # language -> template

KNOWN_VALIDATORS = frozenset({"resident_id", "msisdn", "date"})
BUILTIN_VARS = frozenset({"msisdn", "channel", "lang"})
PAGING_KEYS = ("98", "00")  # USSD "more" / "back one page": never a choice key
# Targets that end the session with a standard message instead of naming a node.
BUILTIN_ENDS = {"$goodbye": "goodbye", "$error": "error", "$empty": "empty"}
# Target that returns to the previous question on the back stack (the start when it is empty).
BACK_TARGET = "$back"
DEFAULT_MESSAGES: Mapping[str, Mapping[str, str]] = {
    "invalid": {"zh": "输入有误，请重新输入。", "en": "Sorry, that is not a valid entry."},
    "noinput": {"zh": "您没有输入。", "en": "We did not hear your entry."},
    "goodbye": {"zh": "输入错误次数过多，再见。", "en": "Too many attempts. Goodbye."},
    "error": {"zh": "系统繁忙，请稍后再试。", "en": "The service is busy. Please try again later."},
    "empty": {"zh": "暂无可选项，再见。", "en": "Nothing is available now. Goodbye."},
    "item_ussd": {"zh": "{n}.{name}", "en": "{n}. {name}"},
    "item_ivr": {"zh": "{name}请按{n}。", "en": "{name}: press {n}."},
    "operator_option": {"zh": "人工服务", "en": "Operator"},
    "operator_busy": {
        "zh": "人工坐席忙，请稍后再试。",
        "en": "All our operators are busy. Please try again later.",
    },
    "operator_unsupported": {
        "zh": "人工服务请拨打12580。",
        "en": "For an operator, please call 12580.",
    },
    "transferred": {"zh": "感谢您的来电，再见。", "en": "Thank you for calling. Goodbye."},
    "sms_sent": {
        "zh": "自助预约方法已短信发送到您的手机，再见。",
        "en": "We have sent you an SMS on how to book. Goodbye.",
    },
    "readback": {
        "zh": "您输入的是：{digits:value} 确认请按1，重新输入请按2。",
        "en": "You entered {digits:value} Press 1 to confirm, 2 to enter it again.",
    },
}


@dataclass(frozen=True, slots=True)
class Choice:
    """A static option of an ``ask``: the key to press, its label and where it leads."""

    key: str
    text: Text
    next: str


@dataclass(frozen=True, slots=True)
class DigitsSpec:
    """Free digit entry of a fixed or bounded length, checked by a named validator."""

    min: int
    max: int
    validator: str | None = None
    allow_star: bool = False
    star_as: str = "X"  # what a '*' is saved as when allow_star (an ID number's X)
    readback: bool = False  # read the entry back and ask 1 confirm / 2 re-enter


@dataclass(frozen=True, slots=True)
class SayNode:
    id: str
    text: Text
    next: str
    prompt: str | None = None


@dataclass(frozen=True, slots=True)
class AskNode:
    """Waits for input: exactly one of ``choices``, ``list_var`` or ``digits`` is set."""

    id: str
    text: Text
    prompt: str | None = None
    choices: tuple[Choice, ...] = ()
    list_var: str | None = None
    digits: DigitsSpec | None = None
    save: str | None = None
    next: str | None = None
    invalid: tuple[Text, ...] = ()  # hints by no-match count; the last one repeats
    silence: tuple[Text, ...] = ()  # hints by no-input count; the last one repeats
    short: Text | None = None  # the question on re-asks (greet-short); None: ``text`` again
    show_operator: bool = False  # list the operator key as the last option
    max_noinput: int = 3
    max_nomatch: int = 3
    on_max: str = "$goodbye"
    empty: str = "$empty"
    first_timeout_s: float = 5.0
    inter_timeout_s: float = 3.0


@dataclass(frozen=True, slots=True)
class ActNode:
    """Asks the host to run an effect; its result picks ``next`` or an ``on_error`` route.

    Without an ``effect`` it only sets variables. ``set`` templates see ``result`` (the value).
    """

    id: str
    effect: str | None
    next: str
    args: Mapping[str, Template] = field(default_factory=dict)
    save: str | None = None
    on_error: Mapping[str, str] = field(default_factory=dict)
    set: Mapping[str, Template] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Case:
    """One routing test: ``test`` (equals, in, empty, count, ...) against ``arg``."""

    test: str
    arg: object
    next: str


@dataclass(frozen=True, slots=True)
class RouteNode:
    """Picks the first case whose test holds for ``value`` (a template), else ``default``."""

    id: str
    value: Template
    cases: tuple[Case, ...]
    default: str


@dataclass(frozen=True, slots=True)
class EndNode:
    id: str
    text: Text
    prompt: str | None = None


Node = SayNode | AskNode | ActNode | EndNode | RouteNode


@dataclass(frozen=True, slots=True)
class Keys:
    """Global keys (``""`` turns one off): back, operator (goes to ``operator_to``) and repeat.

    ``reserved`` keys are no choice either; ``history`` caps the back stack.
    """

    back: str = "*"
    reserved: tuple[str, ...] = ("0",)
    history: int = 10  # cap of the back stack
    operator: str = "0"
    operator_to: str = "$operator"
    repeat: str = "9"

    def taken(self) -> frozenset[str]:
        """Keys no static choice or list item may use."""
        keys = {self.back, self.operator, self.repeat, *self.reserved, *PAGING_KEYS}
        return frozenset(k for k in keys if k)


@dataclass(frozen=True, slots=True)
class MenuDefinition:
    name: str
    version: str  # short sha256 of the file bytes
    filename: str
    languages: tuple[str, ...]
    start: str
    nodes: Mapping[str, Node]
    keys: Keys = Keys()
    messages: Mapping[str, Text] = field(default_factory=dict)
    builtins: Mapping[str, Node] = field(default_factory=dict)  # "$operator" and friends
    positions: Mapping[str, str] = field(default_factory=dict)  # node id -> "file:line:col"
    files: tuple[str, ...] = ()  # the file and its includes (what a reload watches)

    @property
    def default_lang(self) -> str:
        return self.languages[0]

    def node(self, node_id: str) -> Node | None:
        """A node of the menu or a built-in one (``$operator``), None if neither."""
        return self.nodes.get(node_id) or self.builtins.get(node_id)

    def message(self, name: str, lang: str) -> Template:
        """A standard message (``invalid``, ``goodbye``, ``item_ussd``...) in ``lang``."""
        texts = self.messages[name]
        return texts.get(lang) or texts[self.default_lang]


def version_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]


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
    from menus._loader import parse_menu  # the parser needs the node classes above

    return parse_menu(data, filename)


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
