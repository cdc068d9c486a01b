"""Validation of journeys and templates: every problem at once, each located.

`validate_paths(paths)` reads files and folders and returns a `ValidationReport`;
`check_journey(journey, templates)` checks one parsed journey (e.g. in the API);
`load_bundle(paths)` returns the valid journeys and templates or raises `ValidationFailed`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from jobs.errors import Problem, Severity, SpecError, ValidationFailed
from jobs.spec.journey import Journey
from jobs.spec.loader import SourceDocument, iter_files, read_documents
from jobs.spec.messages import problems_from_validation_error
from jobs.spec.template import TemplateBase, parse_template
from jobs.validation.graph import check_graph
from jobs.validation.references import (
    check_conditions,
    check_template_syntax,
    check_templates,
    check_wait_for_matches,
)
from jobs.validation.sketch import sketch_journey, sketch_raw

__all__ = ["Bundle", "ValidationReport", "check_journey", "load_bundle", "validate_documents", "validate_paths"]


class Bundle(BaseModel):
    """Valid journeys and templates read together (journeys in input order, templates by id)."""

    model_config = ConfigDict(frozen=True)

    journeys: list[Journey]
    templates: dict[str, TemplateBase]


class ValidationReport(BaseModel):
    """Everything validation found, plus what parsed cleanly."""

    model_config = ConfigDict(frozen=True)

    problems: list[Problem]
    journeys: list[Journey]
    templates: dict[str, TemplateBase]
    files: int = 0

    @property
    def errors(self) -> list[Problem]:
        """Problems that make the input unusable."""
        return [p for p in self.problems if p.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Problem]:
        """Problems worth a look that do not block."""
        return [p for p in self.problems if p.severity is Severity.WARNING]

    @property
    def ok(self) -> bool:
        """True when there are no errors (warnings allowed)."""
        return not self.errors

    def bundle(self) -> Bundle:
        """The valid journeys and templates; raises ValidationFailed if there were errors."""
        if not self.ok:
            raise ValidationFailed(self.problems)
        return Bundle(journeys=self.journeys, templates=self.templates)


def _node_lines(doc: SourceDocument | None) -> dict[str, int]:
    if doc is None:
        return {}
    lines: dict[str, int] = {}
    for loc, line in doc.lines.items():
        if len(loc) == 1 and isinstance(loc[0], str):
            lines[loc[0]] = line
        elif len(loc) == 2 and loc[0] == "nodes":
            lines[str(loc[1])] = line
    return lines


def check_journey(
    journey: Journey,
    templates: Mapping[str, TemplateBase],
    *,
    file: str | None = None,
    lines: dict[str, int] | None = None,
) -> list[Problem]:
    """Problems of one parsed journey against the given templates (graph, references, conditions)."""
    lines = lines or {}
    sketch = sketch_journey(journey)
    return (
        check_graph(sketch, file=file, lines=lines)
        + check_templates(sketch, templates, file=file, lines=lines)
        + check_wait_for_matches(sketch, file=file, lines=lines)
        + check_conditions(journey, file=file, lines=lines)
    )


def validate_documents(docs: Iterable[SourceDocument], *, files: int = 0) -> ValidationReport:
    """Validate documents read with `jobs.spec.loader`; see `validate_paths`."""
    docs = list(docs)
    problems: list[Problem] = []
    templates: dict[str, TemplateBase] = {}
    template_files: dict[str, str] = {}
    for doc in docs:
        problems += doc.problems
        if doc.kind != "template":
            continue
        try:
            template = parse_template(doc.data)
        except ValidationError as exc:
            problems += problems_from_validation_error(exc, doc, "template")
            raw = doc.data if isinstance(doc.data, dict) else {}
            texts = {k: v for k, v in raw.items() if isinstance(v, str) and k not in ("id", "channel", "description")}
            problems += check_template_syntax(texts, template=doc.name, file=doc.file, line=doc.line_of(()))
            continue
        if template.id in templates:
            problems.append(
                Problem(
                    file=doc.file,
                    line=doc.line_of(("id",)),
                    template=template.id,
                    message=f"template id {template.id!r} is also defined in {template_files[template.id]}",
                )
            )
            continue
        templates[template.id] = template
        template_files[template.id] = doc.file
        problems += check_template_syntax(
            template.rendered_fields(), template=template.id, file=doc.file, line=doc.line_of(())
        )

    journeys: list[Journey] = []
    seen: dict[tuple[str, int], str] = {}
    for doc in docs:
        if doc.kind is None:
            problems.append(
                Problem(
                    file=doc.file,
                    line=doc.line_of(()),
                    message="cannot tell whether this is a journey (it would have 'entry' and 'nodes') "
                    "or a template (it would have 'channel')",
                )
            )
            continue
        if doc.kind != "journey":
            continue
        lines = _node_lines(doc)
        try:
            journey = Journey.model_validate(doc.data)
        except ValidationError as exc:
            problems += problems_from_validation_error(exc, doc, "journey")
            sketch = sketch_raw(doc.data)
            if sketch is not None:
                problems += check_graph(sketch, file=doc.file, lines=lines)
                problems += check_templates(sketch, templates, file=doc.file, lines=lines)
                problems += check_wait_for_matches(sketch, file=doc.file, lines=lines)
            continue
        key = (journey.id, journey.version)
        if key in seen:
            problems.append(
                Problem(
                    file=doc.file,
                    line=doc.line_of(("id",)),
                    journey=journey.id,
                    message=f"journey {journey.id!r} version {journey.version} is also defined in {seen[key]}",
                )
            )
            continue
        seen[key] = doc.file
        journeys.append(journey)
        problems += check_journey(journey, templates, file=doc.file, lines=lines)
    return ValidationReport(problems=_ordered(problems), journeys=journeys, templates=templates, files=files)


def _ordered(problems: list[Problem]) -> list[Problem]:
    # Stable: by file, then line; problems without a line keep their place after located ones.
    unique = list(dict.fromkeys(problems))
    return sorted(unique, key=lambda p: (p.file or "", p.line if p.line is not None else 1 << 30))


def validate_paths(paths: Iterable[str | Path]) -> ValidationReport:
    """Read and validate every journey and template under `paths` (files or folders).

    Unreadable files become problems too, so one run reports everything.
    """
    docs: list[SourceDocument] = []
    problems: list[Problem] = []
    files = 0
    seen: set[Path] = set()
    for raw in paths:
        try:
            found = list(iter_files([raw]))
        except SpecError as exc:
            problems.append(Problem(file=exc.file, message=exc.message))
            continue
        for path in found:
            # A file named twice (a folder and its subfolder) is read once.
            if path.resolve() in seen:
                continue
            seen.add(path.resolve())
            files += 1
            try:
                docs += read_documents(path)
            except SpecError as exc:
                problems.append(Problem(file=exc.file, message=exc.message))
    report = validate_documents(docs, files=files)
    if problems:
        report = report.model_copy(update={"problems": _ordered(problems + report.problems)})
    return report


def load_bundle(paths: Iterable[str | Path]) -> Bundle:
    """The valid journeys and templates under `paths`; raises ValidationFailed on any error."""
    return validate_paths(paths).bundle()
