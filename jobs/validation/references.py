"""Checks that look across a journey: templates and channels, wait_for matches, conditions."""

from __future__ import annotations

import difflib
from collections.abc import Mapping

from jobs.errors import Problem, Severity
from jobs.spec.journey import Journey
from jobs.spec.template import TemplateBase
from jobs.validation.sketch import JourneySketch


def _did_you_mean(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_templates(
    sketch: JourneySketch,
    templates: Mapping[str, TemplateBase],
    *,
    file: str | None,
    lines: dict[str, int],
) -> list[Problem]:
    """Every template a node uses exists and is made for the node's channel."""
    problems: list[Problem] = []
    known = sorted(templates)
    for node in sketch.nodes.values():
        for use in node.templates:
            template = templates.get(use.template)
            if template is None:
                hint = _did_you_mean(use.template, known) or (
                    "" if known else " (no templates were given; pass the templates folder too)"
                )
                message = f"field {use.field!r}: unknown template {use.template!r}{hint}"
            elif template.channel != use.channel:
                article = "an" if template.channel[0] in "aeiou" else "a"
                message = (
                    f"field {use.field!r}: template {use.template!r} is {article} {template.channel} template, "
                    f"but the {'fallback' if use.field.startswith('fallback') else 'node'} "
                    f"channel is {use.channel}"
                )
            else:
                continue
            problems.append(
                Problem(
                    file=file,
                    line=lines.get(node.id),
                    journey=sketch.id,
                    node=node.id,
                    field=use.field,
                    message=message,
                )
            )
    return problems


def check_wait_for_matches(sketch: JourneySketch, *, file: str | None, lines: dict[str, int]) -> list[Problem]:
    """`match: {node: x}` of a wait_for names a node that sends something."""
    problems: list[Problem] = []
    for node in sketch.nodes.values():
        if node.match_node is None:
            continue
        target = sketch.nodes.get(node.match_node)
        if target is None:
            message = (
                f"field 'match.node': {node.match_node!r} is not a node"
                f"{_did_you_mean(node.match_node, list(sketch.nodes))}"
            )
            severity = Severity.ERROR
        elif target.type not in ("message", "webhook") and target.type is not None and not target.templates:
            message = f"field 'match.node': node {node.match_node!r} is a {target.type} node and sends nothing"
            severity = Severity.WARNING
        else:
            continue
        problems.append(
            Problem(
                file=file,
                line=lines.get(node.id),
                journey=sketch.id,
                node=node.id,
                field="match.node",
                message=message,
                severity=severity,
            )
        )
    return problems


def check_conditions(journey: Journey, *, file: str | None, lines: dict[str, int]) -> list[Problem]:
    """`journey.*` fields only where an instance exists (counter forms are checked when parsing)."""
    problems: list[Problem] = []
    for where, condition in journey.conditions():
        node = where.split(".", 1)[0].removeprefix("node ") if where.startswith("node ") else None
        field = where.split(".", 1)[1] if node else where
        for leaf in condition.leaves():
            message = None
            if leaf.field.root == "journey" and where == "entry.where":
                message = f"{leaf.field.raw!r}: journey fields do not exist before the user enters"
            if message:
                problems.append(
                    Problem(
                        file=file,
                        line=lines.get(node or where.split(".", 1)[0].split("[", 1)[0]),
                        journey=journey.id,
                        node=node,
                        field=field,
                        message=message,
                    )
                )
    return problems


def check_template_syntax(
    fields: Mapping[str, str], *, template: str | None, file: str | None, line: int | None
) -> list[Problem]:
    """Each template field compiles as Jinja2 (in the same sandbox the renderer uses).

    `fields` maps field names to sources (`TemplateBase.rendered_fields()`, or the raw text
    fields of a template that did not parse).
    """
    from jinja2 import TemplateSyntaxError
    from jinja2.sandbox import SandboxedEnvironment

    env = SandboxedEnvironment()
    problems: list[Problem] = []
    for name, source in fields.items():
        try:
            env.parse(source)
        except TemplateSyntaxError as exc:
            problems.append(
                Problem(
                    file=file,
                    line=line,
                    template=template,
                    field=name,
                    message=f"field {name!r}: template syntax error on its line {exc.lineno}: {exc.message}",
                )
            )
    return problems
