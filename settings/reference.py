"""docs/settings.md from the schema in ``settings.schema`` (``hotline config reference``)."""

from __future__ import annotations

import typing
from collections.abc import Iterator
from types import NoneType, UnionType
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel

from settings.schema import PACKAGE, Schema, _unwrap


def reference() -> str:
    """docs/settings.md: every key with its type, default and description, from ``Schema``."""
    out = [
        "# Settings reference",
        "",
        "Generated from `settings/schema.py` by `hotline config reference > docs/settings.md`",
        "(a test fails when this page is stale). Every key is optional (`required`: within its",
        "section, when the section is given). A path written in a settings file resolves against",
        "that file's folder; a default marked *shipped* is the file installed with hotline, one",
        "marked *in the current directory* is relative to where hotline starts. How files are",
        "found and checked, `hotline config show|check`: [operations.md](operations.md#settings).",
        "",
        "| key | type | default | description |",
        "|---|---|---|---|",
    ]
    for dotted, kind, default, doc in _rows(Schema, ()):
        out.append(f"| `{dotted}` | {kind} | {default} | {doc} |")
    return "\n".join(out) + "\n"


def _rows(model: type[BaseModel], prefix: tuple[str, ...]) -> Iterator[tuple[str, str, str, str]]:
    for name, field in model.model_fields.items():
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        inner = _unwrap(field.annotation)
        dotted = ".".join((*prefix, name))
        doc = (field.description or "").replace("|", "\\|")
        if isinstance(inner, type) and issubclass(inner, BaseModel) and not field.is_required():
            default = field.get_default(call_default_factory=True)
            if default is not None:  # a section: its keys follow
                yield dotted, "section", "", doc
                yield from _rows(inner, (*prefix, name))
                continue
        kind = str(extra.get("kind") or _type_name(field.annotation, field.metadata))
        kind = kind.replace("|", "\\|")
        if field.is_required():
            shown = "required"
        else:
            value = field.get_default(call_default_factory=True)
            if isinstance(value, BaseModel):
                value = value.model_dump()
            shown = "absent" if value is None else f"`{_yaml_inline(value)}`"
        if extra.get("path"):
            kind = kind.replace("str", "path")
            shown += " (*shipped*)" if extra["path"] == PACKAGE else " (*in the current directory*)"
        yield dotted, kind, shown.replace("|", "\\|"), doc
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            yield from _rows(inner, (*prefix, name))


def _yaml_inline(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=1000).strip() \
        .removesuffix("\n...").strip()


def _type_name(annotation: Any, metadata: list[Any] | None = None) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is Annotated:
        return _type_name(args[0], [*args[1:], *(metadata or [])])
    bounds = {}
    for meta in metadata or []:
        for item in [meta, *getattr(meta, "metadata", [])]:
            for bound in ("ge", "le"):
                if getattr(item, bound, None) is not None:
                    bounds[bound] = getattr(item, bound)
    if origin in (UnionType, typing.Union):
        name = " | ".join("null" if a is NoneType else _type_name(a) for a in args)
    elif origin is Literal:
        name = " | ".join(str(a) for a in args)
    elif origin is list:
        name = f"list of {_type_name(args[0])}"
    elif origin is dict:
        name = f"map {_type_name(args[0])} → {_type_name(args[1])}"
    elif annotation is Any:
        name = "any"
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
        name = "mapping"
    else:
        name = getattr(annotation, "__name__", str(annotation))
    if "ge" in bounds and "le" in bounds:
        return f"{name} {bounds['ge']}-{bounds['le']}"
    if "ge" in bounds:
        return f"{name} >= {bounds['ge']}"
    return name
