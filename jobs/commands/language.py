"""`journeys validate | compile | schema`: the journey language on the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from jobs.compiler import compile_plan, explain_plan
from jobs.errors import ValidationFailed
from jobs.spec.plugins import load_plugins
from jobs.validation import ValidationReport, validate_paths

PathsArgument = Annotated[
    list[Path],
    typer.Argument(
        help="journey and template files (YAML or JSON) or folders of them",
        envvar="JOURNEYS_PATHS",
        show_default=False,
    ),
]
PluginOption = Annotated[
    list[str] | None,
    typer.Option(
        "--plugin",
        envvar="JOURNEYS_PLUGINS",
        help="module that registers node kinds when imported (repeatable; entry points in group "
        "journeys.node_kinds load too)",
        show_default=False,
    ),
]
QuietOption = Annotated[
    bool,
    typer.Option("--quiet", "-q", envvar="JOURNEYS_QUIET", help="print errors only, no warnings or summary"),
]


def _print_report(report: ValidationReport, *, quiet: bool) -> None:
    for problem in report.problems:
        if problem.is_error or not quiet:
            typer.echo(str(problem))
    if not quiet:
        typer.echo(
            f"{len(report.errors)} error(s), {len(report.warnings)} warning(s) in {report.files} file(s)",
            err=True,
        )


def validate(paths: PathsArgument, quiet: QuietOption = False, plugin: PluginOption = None) -> None:
    """Check journeys and templates; print every problem (file:line: journey, node: message).

    Exit 1 if there are errors, 0 if there are only warnings or none.
    """
    load_plugins(plugin or ())
    report = validate_paths(paths)
    _print_report(report, quiet=quiet)
    if not report.ok:
        raise typer.Exit(1)


def compile_(
    paths: PathsArgument,
    explain: Annotated[
        bool, typer.Option("--explain", envvar="JOURNEYS_EXPLAIN", help="print the plan readably instead of JSON")
    ] = False,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", envvar="JOURNEYS_PLAN", help="write the plan JSON to this file", show_default=False
        ),
    ] = None,
    paused: Annotated[
        list[str] | None,
        typer.Option(
            "--paused", envvar="JOURNEYS_PAUSED", help="id of a paused journey (repeatable)", show_default=False
        ),
    ] = None,
    plugin: PluginOption = None,
) -> None:
    """Validate, then compile the journeys under PATHS into a plan (JSON, or text with --explain).

    Several versions of a journey may be given (`version:` in the file): the newest takes
    entries, older ones are kept for users still inside them.
    """
    load_plugins(plugin or ())
    report = validate_paths(paths)
    if not report.ok:
        _print_report(report, quiet=False)
        raise typer.Exit(1)
    try:
        plan = compile_plan(report.journeys, report.templates, paused=paused or ())
    except ValidationFailed as exc:
        for problem in exc.problems:
            typer.echo(str(problem))
        raise typer.Exit(1) from None
    text = plan.model_dump_json(indent=2) + "\n"
    if output is not None:
        output.write_text(text, encoding="utf-8")
    if explain:
        typer.echo(explain_plan(plan), nl=False)
    elif output is None:
        typer.echo(text, nl=False)


def schema(
    template: Annotated[
        bool,
        typer.Option("--template", envvar="JOURNEYS_SCHEMA_TEMPLATE", help="the template schema instead"),
    ] = False,
    plugin: PluginOption = None,
) -> None:
    """Print the JSON Schema of a journey (or a template) file, for editors and the API."""
    from jobs.spec.journey import Journey
    from jobs.spec.template import template_json_schema

    load_plugins(plugin or ())
    data = template_json_schema() if template else Journey.model_json_schema()
    data = {"$schema": "https://json-schema.org/draft/2020-12/schema", **data}
    typer.echo(json.dumps(data, indent=2, sort_keys=False))


def register(app: typer.Typer) -> None:
    """Add `validate`, `compile` and `schema` to the CLI."""
    app.command("validate")(validate)
    app.command("compile")(compile_)
    app.command("schema")(schema)
