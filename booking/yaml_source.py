"""Reading YAML nodes into checked values, each error naming ``file:line`` (catalog, policy)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import yaml

from booking.policy import parse_hhmm

LANGS = ("zh", "en")
# Ids end up inside Redis hash tags {dept:day:session}: no braces, colons or spaces.
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


class CatalogError(ValueError):
    """The catalog file is unreadable or holds a bad value; the message starts with file:line."""


class YamlSource:
    """Turns YAML nodes into values while remembering where each came from."""

    def __init__(self, source: str, loader: yaml.SafeLoader) -> None:
        self.source = source
        self.loader = loader

    def fail(self, node: yaml.Node | None, problem: str) -> CatalogError:
        line = node.start_mark.line + 1 if node is not None else 1
        return CatalogError(f"{self.source}:{line}: {problem}")

    def mapping(self, node: yaml.Node, what: str) -> dict[str, yaml.Node]:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, f"{what} must be a mapping")
        out: dict[str, yaml.Node] = {}
        for k, v in node.value:
            key = self.scalar(k, f"a key in {what}")
            if not isinstance(key, str):
                raise self.fail(k, f"{what}: keys must be text, got {key!r}")
            if key in out:
                raise self.fail(k, f"{what}: duplicate key {key!r}")
            out[key] = v
        return out

    def scalar(self, node: yaml.Node, what: str) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            raise self.fail(node, f"{what} must be a single value")
        return self.loader.construct_object(node, deep=True)

    def text(self, node: yaml.Node, what: str) -> str:
        value = self.scalar(node, what)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(node, f"{what} must be non-empty text, got {value!r}")
        return value.strip()

    def ident(self, node: yaml.Node, what: str) -> str:
        value = self.scalar(node, what)
        if not isinstance(value, str) or not ID_PATTERN.match(value):
            raise self.fail(node, f"{what} must match [a-z0-9][a-z0-9_-]*, got {value!r}")
        return value

    def integer(self, node: yaml.Node, what: str, low: int, high: int) -> int:
        value = self.scalar(node, what)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.fail(node, f"{what} must be a whole number {low}..{high}, got {value!r}")
        return value

    def share(self, node: yaml.Node, what: str) -> float:
        value = self.scalar(node, what)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise self.fail(node, f"{what} must be a number from 0 to 1, got {value!r}")
        return float(value)

    def hhmm(self, node: yaml.Node, what: str) -> dt.time:
        value = parse_hhmm(self.scalar(node, what))
        if value is None:
            raise self.fail(node, f"{what} must be a time HH:MM in quotes, e.g. \"07:00\"")
        return value

    def names(self, node: yaml.Node, what: str) -> Mapping[str, str]:
        fields = self.mapping(node, what)
        for lang in LANGS:
            if lang not in fields:
                raise self.fail(node, f"{what} needs a {lang!r} entry")
        return MappingProxyType({k: self.text(v, f"{what}.{k}") for k, v in fields.items()})

    def unknown(self, fields: dict[str, yaml.Node], allowed: set[str], what: str) -> None:
        for key in fields:
            if key not in allowed:
                raise self.fail(fields[key], f"{what}: unknown key {key!r}")
