"""The `journeys` command line.

Each command group lives in its own module under `jobs/commands/` and exposes
`register(app)`; this module only assembles them. Every option is also settable through an
environment variable (`JOURNEYS_<OPTION>`), shown in `--help`.
"""

from __future__ import annotations

import importlib
import sys

import click
import typer

from jobs.errors import JourneysError

COMMAND_MODULES = (
    "jobs.commands.services",
    "jobs.commands.demo",
    "jobs.commands.jobs",
    "jobs.commands.language",
    "jobs.commands.dispatch",
    "jobs.commands.template",
)

app = typer.Typer(
    name="journeys",
    help="Customer journey orchestration on Apache Flink.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register() -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(app)


def main() -> None:
    """Entry point of the `journeys` console script."""
    _register()
    try:
        code = app(standalone_mode=False)
    except JourneysError as exc:
        typer.echo(f"journeys: {exc}", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.Abort:
        typer.echo("journeys: aborted", err=True)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
