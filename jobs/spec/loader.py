"""Read journeys and templates from YAML or JSON files and folders.

YAML is read with YAML 1.2-style scalars, so `on`, `yes` and `no` stay strings and an unquoted
`10:00` is not the sexagesimal number 600; duplicate keys (a node id written twice) are errors
instead of silently keeping the last one. Every key's line is remembered so problems can point
at it.

A document is a journey if it has `nodes` or `entry`, a template if it has `channel`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from jobs.errors import Problem, SpecError, ValidationFailed
from jobs.spec.journey import Journey
from jobs.spec.messages import problems_from_validation_error
from jobs.spec.template import TemplateBase, parse_template

SUFFIXES = (".yaml", ".yml", ".json")

DocumentKind = Literal["journey", "template"]


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans and numbers, and timestamps left as strings."""


_Loader.yaml_implicit_resolvers = {
    first: [
        (tag, rx)
        for tag, rx in resolvers
        if tag
        not in {
            "tag:yaml.org,2002:bool",
            "tag:yaml.org,2002:int",
            "tag:yaml.org,2002:float",
            "tag:yaml.org,2002:timestamp",
        }
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Loader.add_implicit_resolver("tag:yaml.org,2002:int", re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$"), list("-+0123456789"))
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^(?:[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
    list("-+0123456789."),
)


@dataclass(frozen=True)
class SourceDocument:
    """One document read from a file: its data, what it looks like, and where each key sits."""

    file: str
    index: int
    data: Any
    kind: DocumentKind | None
    lines: dict[tuple[str | int, ...], int] = field(default_factory=dict)
    problems: tuple[Problem, ...] = ()

    def line_of(self, loc: Iterable[str | int]) -> int | None:
        """The line of the deepest key on `loc` that has one (1-based), if known."""
        path = tuple(loc)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get(())

    @property
    def name(self) -> str | None:
        """The document's `id`, when it has a string one."""
        ident = self.data.get("id") if isinstance(self.data, dict) else None
        return ident if isinstance(ident, str) else None


def _classify(data: Any, path: Path) -> DocumentKind | None:
    if not isinstance(data, dict):
        return None
    if "nodes" in data or "entry" in data:
        return "journey"
    if "channel" in data:
        return "template"
    return "template" if "templates" in path.parts else None


def _build(loader: _Loader, node: yaml.Node, loc: tuple[str | int, ...], lines: dict, dupes: list) -> Any:
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _build(loader, key_node, loc, lines, dupes)
            if not isinstance(key, str | int | float | bool) and key is not None:
                raise SpecError(f"line {key_node.start_mark.line + 1}: a mapping key must be text")
            if key in result:
                dupes.append(((*loc, key), key_node.start_mark.line + 1))
            lines.setdefault((*loc, key), key_node.start_mark.line + 1)
            result[key] = _build(loader, value_node, (*loc, key), lines, dupes)
        return result
    if isinstance(node, yaml.SequenceNode):
        items = []
        for i, item in enumerate(node.value):
            lines.setdefault((*loc, i), item.start_mark.line + 1)
            items.append(_build(loader, item, (*loc, i), lines, dupes))
        return items
    return loader.construct_object(node, deep=True)


def _dupe_problem(file: str, data: Any, loc: tuple, line: int) -> Problem:
    journey = data.get("id") if isinstance(data, dict) and isinstance(data.get("id"), str) else None
    node = str(loc[1]) if len(loc) >= 2 and loc[0] == "nodes" else None
    where = ".".join(str(p) for p in loc)
    return Problem(
        file=file,
        line=line,
        journey=journey,
        node=node,
        field=where,
        message=f"{'node' if node and len(loc) == 2 else 'key'} {loc[-1]!r} is written twice "
        "(the second would silently replace the first)",
    )


def read_documents(path: str | Path, *, display: str | None = None) -> list[SourceDocument]:
    """Read every document of one YAML or JSON file. Raises SpecError if it cannot be parsed."""
    path = Path(path)
    name = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"cannot read file: {exc.strerror or exc}", file=name) from None
    except UnicodeDecodeError:
        raise SpecError("file is not UTF-8 text", file=name) from None
    if path.suffix == ".json":
        return [_read_json(text, path, name)]
    docs: list[SourceDocument] = []
    loader = _Loader(text)
    try:
        index = 0
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            lines: dict[tuple[str | int, ...], int] = {(): node.start_mark.line + 1}
            dupes: list[tuple[tuple, int]] = []
            data = _build(loader, node, (), lines, dupes)
            problems = tuple(_dupe_problem(name, data, loc, line) for loc, line in dupes)
            docs.append(SourceDocument(name, index, data, _classify(data, path), lines, problems))
            index += 1
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        at = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        hint = ""
        if "'?'" in str(exc.problem):
            # PyYAML ends a plain scalar at '?' inside {…}; the design's own example trips on it.
            hint = ' (inside {…}, quote text that contains "?", e.g. next: "opened?")'
        raise SpecError(f"{at}not valid YAML: {exc.problem or exc}{hint}", file=name) from None
    except yaml.YAMLError as exc:
        raise SpecError(f"not valid YAML: {exc}", file=name) from None
    finally:
        loader.dispose()
    return docs


def _read_json(text: str, path: Path, name: str) -> SourceDocument:
    dupes: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in items:
            if key in out:
                dupes.append(key)
            out[key] = value
        return out

    try:
        data = json.loads(text, object_pairs_hook=pairs)
    except json.JSONDecodeError as exc:
        raise SpecError(f"line {exc.lineno}, column {exc.colno}: not valid JSON: {exc.msg}", file=name) from None
    problems = tuple(
        Problem(
            file=name,
            field=key,
            message=f"key {key!r} is written twice (the second would silently replace the first)",
        )
        for key in dupes
    )
    return SourceDocument(name, 0, data, _classify(data, path), {}, problems)


def iter_files(paths: Iterable[str | Path]) -> Iterator[Path]:
    """The YAML/JSON files named by `paths`, folders searched recursively, each folder sorted.

    A file named twice (`jobs/library` and `jobs/library/templates`) is read once. Raises
    SpecError for a path that does not exist.
    """
    seen: set[Path] = set()
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in SUFFIXES)
        elif path.is_file():
            found = [path]
        else:
            raise SpecError("no such file or folder", file=str(raw))
        for file in found:
            key = file.resolve()
            if key not in seen:
                seen.add(key)
                yield file


def read_all(paths: Iterable[str | Path]) -> list[SourceDocument]:
    """Every document in `paths` (files or folders). Raises SpecError on unreadable input."""
    return [doc for path in iter_files(paths) for doc in read_documents(path)]


def journey_from_document(doc: SourceDocument) -> Journey:
    """Parse a journey document; raises ValidationFailed with readable problems."""
    return _parse(doc, Journey.model_validate, "journey")


def template_from_document(doc: SourceDocument) -> TemplateBase:
    """Parse a template document; raises ValidationFailed with readable problems."""
    return _parse(doc, parse_template, "template")


def _parse(doc: SourceDocument, parse: Any, kind: DocumentKind) -> Any:
    from pydantic import ValidationError

    if doc.problems:
        raise ValidationFailed(list(doc.problems))
    try:
        return parse(doc.data)
    except ValidationError as exc:
        raise ValidationFailed(problems_from_validation_error(exc, doc, kind)) from None


def load_journey(path: str | Path) -> Journey:
    """Load the single journey in a YAML or JSON file (raises SpecError / ValidationFailed)."""
    docs = read_documents(path)
    if len(docs) != 1 or docs[0].kind != "journey":
        raise SpecError("expected exactly one journey in the file", file=str(path))
    return journey_from_document(docs[0])


def load_template(path: str | Path) -> TemplateBase:
    """Load the single template in a YAML or JSON file (raises SpecError / ValidationFailed)."""
    docs = read_documents(path)
    if len(docs) != 1 or docs[0].kind != "template":
        raise SpecError("expected exactly one template in the file", file=str(path))
    return template_from_document(docs[0])


def journey_from_yaml(text: str) -> Journey:
    """Parse a journey from YAML (or JSON) text, e.g. a request body; raises ValidationFailed."""
    return journey_from_document(_text_document(text, "journey"))


def template_from_yaml(text: str) -> TemplateBase:
    """Parse a template from YAML (or JSON) text; raises ValidationFailed."""
    return template_from_document(_text_document(text, "template"))


def _text_document(text: str, kind: DocumentKind) -> SourceDocument:
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        lines: dict[tuple[str | int, ...], int] = {}
        dupes: list[tuple[tuple, int]] = []
        data = _build(loader, node, (), lines, dupes) if node is not None else None
    except yaml.YAMLError as exc:
        raise SpecError(f"not valid YAML: {exc}") from None
    finally:
        loader.dispose()
    name = f"<{kind}>"
    problems = tuple(_dupe_problem(name, data, loc, line) for loc, line in dupes)
    return SourceDocument(name, 0, data, kind, lines, problems)
