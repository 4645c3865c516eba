"""Reading YAML with positions, so every menu error can say ``file:line:col``.

We walk ``yaml.compose`` nodes ourselves instead of ``safe_load``: that keeps each value's mark
and lets us reject duplicate mapping keys, which PyYAML would silently overwrite.
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml

from menus.errors import MenuError

_BOOL_TAG = "tag:yaml.org,2002:bool"
_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_NULL_TAG = "tag:yaml.org,2002:null"


@dataclass(frozen=True, slots=True)
class Where:
    """A file name plus a context prefix such as ``node 'pick_dept': ``."""

    filename: str
    context: str = ""

    def inside(self, context: str) -> Where:
        return Where(self.filename, f"{self.context}{context}: ")

    def error(self, node: yaml.Node | None, message: str) -> MenuError:
        if node is None:
            return MenuError(f"{self.filename}: {self.context}{message}")
        mark = node.start_mark
        return MenuError(
            f"{self.filename}:{mark.line + 1}:{mark.column + 1}: {self.context}{message}"
        )


def compose(text: str, where: Where) -> yaml.Node:
    """Parse ``text`` into a node tree; YAML syntax errors become MenuError with a position."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        pos = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        why = err.problem or "invalid YAML"
        if err.context and err.context_mark is not None and err.context_mark is not mark:
            why += f" ({err.context} at line {err.context_mark.line + 1})"
        raise MenuError(f"{where.filename}{pos}: YAML syntax error: {why}") from err
    except yaml.YAMLError as err:
        raise MenuError(f"{where.filename}: YAML error: {err}") from err
    if node is None:
        raise MenuError(f"{where.filename}: the file is empty")
    return node


def mapping(node: yaml.Node, where: Where, what: str) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    """A mapping's entries keyed by scalar text: ``{key: (key_node, value_node)}``."""
    if not isinstance(node, yaml.MappingNode):
        raise where.error(node, f"{what} must be a mapping")
    out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
    for key_node, value_node in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            raise where.error(key_node, f"{what}: keys must be plain values")
        key = key_node.value
        if key in out:
            raise where.error(key_node, f"duplicate key {key!r} in {what}")
        out[key] = (key_node, value_node)
    return out


def string(node: yaml.Node, where: Where, what: str) -> str:
    if not isinstance(node, yaml.ScalarNode) or node.tag == _NULL_TAG:
        raise where.error(node, f"{what} must be a string")
    return node.value


def integer(node: yaml.Node, where: Where, what: str) -> int:
    if not isinstance(node, yaml.ScalarNode) or node.tag != _INT_TAG:
        raise where.error(node, f"{what} must be an integer")
    return int(node.value.replace("_", ""), 0)


def number(node: yaml.Node, where: Where, what: str) -> float:
    if not isinstance(node, yaml.ScalarNode) or node.tag not in (_INT_TAG, _FLOAT_TAG):
        raise where.error(node, f"{what} must be a number")
    return float(node.value)


def boolean(node: yaml.Node, where: Where, what: str) -> bool:
    if not isinstance(node, yaml.ScalarNode) or node.tag != _BOOL_TAG:
        raise where.error(node, f"{what} must be true or false")
    return node.value.lower() in ("true", "yes", "on")


def sequence(node: yaml.Node, where: Where, what: str) -> list[yaml.Node]:
    if not isinstance(node, yaml.SequenceNode):
        raise where.error(node, f"{what} must be a list")
    return list(node.value)
