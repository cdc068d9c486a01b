"""Turn pydantic's validation errors into `Problem`s a journey author can act on.

Pydantic locates an error with a path such as `('nodes', 'wait_1h', 'wait', 'duraton')`, mixing
field names with union tags. We walk the model types along that path to tell them apart, so
the message names the node (`wait_1h`) and the field (`duraton`), and, for an unknown field,
the closest allowed one (`did you mean 'duration'?`).
"""

from __future__ import annotations

import difflib
import inspect
import re
import types
from typing import TYPE_CHECKING, Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, Tag, ValidationError

from jobs.errors import Problem
from jobs.spec.journey import Journey
from jobs.spec.nodes import Node, node_kinds
from jobs.spec.template import TEMPLATE_MODELS, Template

if TYPE_CHECKING:
    from jobs.spec.loader import SourceDocument

_TYPE_WORDS = {
    "string_type": "text",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "dict_type": "a mapping (key: value)",
    "list_type": "a list",
    "tuple_type": "a list",
    "model_type": "a mapping (key: value)",
    "model_attributes_type": "a mapping (key: value)",
}


def _unwrap(tp: Any) -> Any:
    while get_origin(tp) is Annotated:
        tp = get_args(tp)[0]
    return tp


def _tag(tp: Any) -> str | None:
    if get_origin(tp) is Annotated:
        for meta in get_args(tp)[1:]:
            if isinstance(meta, Tag):
                return meta.tag
    return None


def _is_model(tp: Any) -> bool:
    return inspect.isclass(tp) and issubclass(tp, BaseModel)


def _literal_of(model: Any, name: str) -> Any:
    field = model.model_fields.get(name)
    args = get_args(field.annotation) if field else ()
    return args[0] if len(args) == 1 else None


def _field(model: type[BaseModel], key: Any) -> tuple[str, Any] | None:
    for name, info in model.model_fields.items():
        if key in (name, info.alias):
            return (info.alias or name), info.annotation
    return None


def _step(tp: Any, key: Any) -> tuple[Any, bool, str | None]:
    """Follow one loc element: (type after it, whether it was a union tag, display name)."""
    if _unwrap(tp) is Node:
        kinds = node_kinds()
        return (kinds[key], True, None) if key in kinds else (None, True, None)
    if tp is Template or _unwrap(tp) is _unwrap(Template):
        return (TEMPLATE_MODELS[key], True, None) if key in TEMPLATE_MODELS else (None, True, None)
    base = _unwrap(tp)
    origin = get_origin(base)
    if origin in (Union, types.UnionType):
        members = get_args(base)
        for member in members:
            inner = _unwrap(member)
            if _tag(member) == key or (
                _is_model(inner) and key in (_literal_of(inner, "type"), _literal_of(inner, "channel"))
            ):
                return inner, True, None
        real = [m for m in members if m is not type(None)]
        if len(real) == 1:
            return _step(real[0], key)
        return None, True, None
    if _is_model(base):
        found = _field(base, key)
        return (found[1], False, found[0]) if found else (None, False, str(key))
    if origin is dict:
        return get_args(base)[1], False, str(key)
    if origin in (list, tuple):
        return get_args(base)[0], False, key
    return None, False, str(key) if isinstance(key, str) else key


def _model_of(tp: Any) -> Any:
    """The model behind `tp`, seeing through Annotated and Optional."""
    base = _unwrap(tp)
    if get_origin(base) in (Union, types.UnionType):
        real = [m for m in get_args(base) if m is not type(None)]
        if len(real) == 1:
            return _model_of(real[0])
    return base


def _resolve(root: Any, loc: tuple[Any, ...]) -> tuple[list[Any], Any, Any]:
    """Display path (tags removed), the model holding the last element, and the last type."""
    display: list[Any] = []
    tp: Any = root
    parent: Any = None
    for key in loc:
        if tp is None:
            break
        here = _model_of(tp)
        new_tp, is_tag, name = _step(tp, key)
        if not is_tag:
            parent = here if _is_model(here) else parent if isinstance(key, int) else None
            display.append(name if name is not None else key)
        tp = new_tp
    return display, parent, tp


def _format_path(parts: list[Any]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _suggest(word: Any, choices: list[str]) -> str:
    if not isinstance(word, str):
        return ""
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _expected(ctx: dict[str, Any] | None, key: str) -> list[str]:
    return re.findall(r"'([^']*)'", str((ctx or {}).get(key, "")))


def _describe(err: dict[str, Any], field: str, parent: Any, kind_word: str) -> str:
    etype = err["type"]
    ctx = err.get("ctx") or {}
    value = err.get("input")
    name = field or kind_word
    last = field.rsplit(".", 1)[-1] if field else kind_word
    if etype == "extra_forbidden":
        allowed = sorted((info.alias or n) for n, info in parent.model_fields.items()) if _is_model(parent) else []
        hint = _suggest(last, allowed) or (f" (allowed: {', '.join(allowed)})" if allowed else "")
        return f"field {name!r} is not allowed{hint}"
    if not field and kind_word == "node" and etype in ("model_type", "model_attributes_type", "dict_type"):
        return f"a node should be a mapping with a 'type' and its fields, got {value!r}"
    if etype == "missing":
        return f"field {name!r} is required"
    if etype == "union_tag_invalid":
        tags = _expected(ctx, "expected_tags")
        what = "node type" if kind_word == "node" else "channel" if kind_word == "template" else "kind"
        if not isinstance(value, dict) or not isinstance(
            value.get("type" if kind_word != "template" else "channel"), str
        ):
            return f"field {'type' if kind_word == 'node' else 'channel'!r} must be one of {', '.join(tags)}"
        return f"unknown {what} {ctx.get('tag')!r}{_suggest(ctx.get('tag'), tags)}; known: {', '.join(tags)}"
    if etype == "union_tag_not_found":
        disc = str(ctx.get("discriminator", "")).strip("'")
        return f"field {disc!r} is required"
    if etype in ("literal_error", "enum"):
        options = _expected(ctx, "expected")
        return f"field {name!r}: {value!r} is not one of {', '.join(options)}{_suggest(value, options)}"
    if etype in ("value_error", "assertion_error"):
        msg = str(ctx.get("error", err["msg"]))
        return f"field {name!r}: {msg}" if field else msg
    if etype == "condition":
        return f"field {name!r}: {err['msg']}"
    if etype in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        bound = ctx.get("gt", ctx.get("ge", ctx.get("lt", ctx.get("le"))))
        if isinstance(bound, float) and bound.is_integer():
            bound = int(bound)
        words = {
            "greater_than": "greater than",
            "greater_than_equal": "at least",
            "less_than": "less than",
            "less_than_equal": "at most",
        }[etype]
        return f"field {name!r} must be {words} {bound} (got {value!r})"
    if etype in ("too_short", "too_long"):
        if etype == "too_short" and ctx.get("min_length") == 1:
            return f"field {name!r} must not be empty"
        return f"field {name!r}: {err['msg'].lower()}"
    if etype in ("string_too_short",):
        return f"field {name!r} must not be empty"
    if etype == "string_pattern_mismatch":
        if last in ("id", "start", "next", "default", "on_event", "on_timeout") or kind_word == "node":
            return f"field {name!r}: {value!r} is not a valid id (no spaces or ':')"
        return f"field {name!r}: {value!r} has characters that are not allowed"
    if etype in _TYPE_WORDS:
        options = list(dict.fromkeys(ctx.get("words") or [_TYPE_WORDS[etype]]))
        if "a number" in options and "a whole number" in options:
            options.remove("a whole number")
        words = " or ".join(options)
        return f"field {name!r} should be {words}, got {value!r}"
    return f"field {name!r}: {err['msg']}" if field else err["msg"]


def problems_from_validation_error(
    exc: ValidationError, doc: SourceDocument | None = None, kind: str = "journey"
) -> list[Problem]:
    """Readable problems for a ValidationError raised while parsing a journey or a template."""
    data = doc.data if doc is not None else None
    ident = data.get("id") if isinstance(data, dict) and isinstance(data.get("id"), str) else None
    root: Any = Journey if kind == "journey" else Template
    entries: list[tuple[dict[str, Any], str | None, str, Any, tuple[Any, ...], tuple[Any, ...]]] = []
    merged: dict[str, dict[str, Any]] = {}
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        node: str | None = None
        display, parent, _ = _resolve(root, loc)
        data_loc = tuple(display)
        if kind == "journey" and len(loc) >= 2 and loc[0] == "nodes":
            node = str(loc[1])
            display = display[2:]
        field = _format_path(display)
        # A union of enum and literal (e.g. a cap's `channel: any | email …`) fails once per member.
        if err["type"] in ("literal_error", "enum"):
            key = f"{node}/{field}"
            if key in merged:
                merged[key]["ctx"]["expected"] += ", " + str((err.get("ctx") or {}).get("expected", ""))
                continue
            err = {**err, "ctx": dict(err.get("ctx") or {})}
            merged[key] = err
        # A union of types (a condition's `value`, `match` values) fails once per member too.
        if err["type"] in _TYPE_WORDS:
            key = f"{node}/{field}/type"
            if key in merged:
                merged[key]["ctx"]["words"].append(_TYPE_WORDS[err["type"]])
                continue
            err = {**err, "ctx": {**(err.get("ctx") or {}), "words": [_TYPE_WORDS[err["type"]]]}}
            merged[key] = err
        entries.append((err, node, field, parent, loc, data_loc))
    # `duraton: 1h` fails twice: unknown `duraton` and missing `duration`. The first says it all.
    misspelt: set[tuple[Any, ...]] = set()
    for err, _node, _field, parent, loc, _data_loc in entries:
        if err["type"] == "extra_forbidden" and _is_model(parent):
            allowed = [(info.alias or n) for n, info in parent.model_fields.items()]
            close = difflib.get_close_matches(str(loc[-1]), allowed, n=1, cutoff=0.6)
            if close:
                misspelt.add((*loc[:-1], close[0]))
    entries = [e for e in entries if not (e[0]["type"] == "missing" and e[4] in misspelt)]
    problems: list[Problem] = []
    seen: set[tuple[Any, ...]] = set()
    for err, node, field, parent, _loc, data_loc in entries:
        message = _describe(err, field, parent, "node" if node and not field else kind)
        if (node, field, message) in seen:
            continue
        seen.add((node, field, message))
        problems.append(
            Problem(
                file=doc.file if doc else None,
                line=doc.line_of(data_loc) if doc else None,
                journey=ident if kind == "journey" else None,
                template=ident if kind == "template" else None,
                node=node,
                field=field or None,
                message=message,
            )
        )
    return problems
