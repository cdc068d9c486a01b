"""`journeys demo`: the product end to end on the local platform, with a summary per journey."""

from __future__ import annotations

from typing import Annotated

import typer

from jobs.commands.common import SettingsOption, load_settings


def demo(
    users: Annotated[int, typer.Option(envvar="JOURNEYS_DEMO_USERS", help="synthetic users", min=1)] = 3000,
    events: Annotated[int, typer.Option(envvar="JOURNEYS_DEMO_EVENTS", help="events to produce", min=1)] = 40000,
    days: Annotated[int, typer.Option(envvar="JOURNEYS_DEMO_DAYS", help="days of history", min=1)] = 10,
    seed: Annotated[int, typer.Option(envvar="JOURNEYS_DEMO_SEED", help="random seed")] = 7,
    settings: SettingsOption = None,
) -> None:
    """Start the local services, replay days of synthetic history through Kafka, the library
    journeys job and the dispatchers, and report what happened per journey."""
    from jobs.demo import run_demo
    from jobs.services import resolve

    conf = load_settings(settings)
    for service in resolve(conf):
        started = service.start()
        typer.echo(f"{service.name:<6} {service.address:<22} {'started' if started else 'running'}")
    report = run_demo(conf, users=users, events=events, days=days, seed=seed, say=typer.echo)
    typer.echo("")
    for line in report.lines():
        typer.echo(line)
    typer.echo("\nservices keep running for you to explore (kcat -b 127.0.0.1:9092 -L, .journeys/mail/); "
               "`make down` stops them")
    if not report.entered or report.errors:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add `demo` to the CLI."""
    app.command("demo")(demo)
