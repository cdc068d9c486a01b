"""The `journeys` command line.

Each command group lives in its own module under `jobs/commands/` and exposes
`register(app)`; this module only assembles them. Every option is also settable through an
environment variable (`JOURNEYS_<OPTION>`), shown in `--help`.
"""

from __future__ import annotations

import importlib

import typer

COMMAND_MODULES = (
    "jobs.commands.services",
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
    app()


if __name__ == "__main__":
    main()
