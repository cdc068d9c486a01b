"""`journeys services up|down|status [NAME...]`: the local Kafka, Redis and SMTP servers."""

from __future__ import annotations

from typing import Annotated

import typer

from jobs.commands.common import SettingsOption, load_settings
from jobs.services import SERVICES, resolve

NamesArgument = Annotated[
    list[str] | None,
    typer.Argument(help=f"services to act on ({', '.join(SERVICES)}); all when omitted", show_default=False),
]

services_app = typer.Typer(help="Start, stop and inspect the local services (Kafka, Redis, SMTP).")


@services_app.command("up")
def up(names: NamesArgument = None, settings: SettingsOption = None) -> None:
    """Start services (waiting until each is healthy); running ones are left as they are."""
    for service in resolve(load_settings(settings), names):
        started = service.start()
        verb = "started" if started else "already running"
        typer.echo(f"{service.name:<6} {service.address:<22} {verb}, healthy (log: {service.log_file})")


@services_app.command("down")
def down(names: NamesArgument = None, settings: SettingsOption = None) -> None:
    """Stop the services that journeys started; anything else is left alone."""
    for service in reversed(resolve(load_settings(settings), names)):
        stopped = service.stop()
        typer.echo(f"{service.name:<6} {'stopped' if stopped else 'was not started by journeys'}")


@services_app.command("status")
def status(names: NamesArgument = None, settings: SettingsOption = None) -> None:
    """Print each service, its address and its health; exit 1 if any is unhealthy."""
    statuses = [s.status() for s in resolve(load_settings(settings), names)]
    for st in statuses:
        typer.echo(st.line())
    if not all(st.healthy for st in statuses):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add the `services` group to the CLI."""
    app.add_typer(services_app, name="services")
