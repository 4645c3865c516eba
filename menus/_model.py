"""The frozen values a loaded menu is made of: nodes, global keys, standard messages, the menu.

Kept apart from loading so the parser (``menus._loader``) can build them while
``menus.definition``, which re-exports them as the public face, calls that parser: no cycle.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from menus.template import Template

Text = Mapping[str, Template]  # language -> template

KNOWN_VALIDATORS = frozenset({"resident_id", "msisdn", "date"})
# ``entry``: what the entry point chose before the menu began (a USSD service code's suffix,
# the dialed number, an AGI URL parameter); empty when it chose nothing
BUILTIN_VARS = frozenset({"msisdn", "channel", "lang", "entry"})
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
    channels: tuple[str, ...] = ()  # shown only on these channels (empty: all)
    langs: tuple[str, ...] = ()  # shown only to sessions in these languages (empty: all)

    def shown(self, channel: str, lang: str) -> bool:
        return (not self.channels or channel in self.channels) and (
            not self.langs or lang in self.langs
        )


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
class CodeEntry:
    """A list ask's second way in: a code keyed instead of an option number (``*12`` always,
    ``12`` when 12 is no option shown), saved as digits to ``save`` before going to ``next``."""

    min: int
    max: int
    save: str
    next: str


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
    code: CodeEntry | None = None  # list asks only: a code may be keyed instead of a number
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
    lang: str | None = None  # switch the session to this language first


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
    # (file, bytes) of each of ``files``, what the version hashes: enough to rebuild this
    # version elsewhere (another node, a restarted process) when the files have changed since
    sources: tuple[tuple[str, bytes], ...] = field(default=(), repr=False, compare=False)
    # voice-only languages -> the written language whose texts they read where a text has no
    # variant of its own (e.g. yue -> zh: Cantonese speech of the Chinese texts)
    voice_languages: Mapping[str, str] = field(default_factory=dict)

    def speaks(self, lang: str | None, channel: str) -> bool:
        """May a session on ``channel`` use ``lang``? Voice-only languages only on ivr."""
        return lang in self.languages or (channel == "ivr" and lang in self.voice_languages)

    def pick(self, texts: Mapping[str, Template], lang: str) -> Template:
        """The variant of ``texts`` for ``lang``: its own, its written language's, the default."""
        found = texts.get(lang)
        if found is None and lang in self.voice_languages:
            found = texts.get(self.voice_languages[lang])
        return found if found is not None else texts[self.default_lang]

    @property
    def default_lang(self) -> str:
        return self.languages[0]

    def node(self, node_id: str) -> Node | None:
        """A node of the menu or a built-in one (``$operator``), None if neither."""
        return self.nodes.get(node_id) or self.builtins.get(node_id)

    def message(self, name: str, lang: str) -> Template:
        """A standard message (``invalid``, ``goodbye``, ``item_ussd``...) in ``lang``."""
        return self.pick(self.messages[name], lang)
