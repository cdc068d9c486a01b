"""`journeys simulate` and `journeys run`: the compiled journeys as a Flink job."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from jobs.commands.common import SettingsOption, load_settings
from jobs.errors import JourneysError
from jobs.spec.durations import parse_duration

JourneysOption = Annotated[
    list[Path],
    typer.Option(
        "--journeys",
        envvar="JOURNEYS_JOURNEYS",
        help="journey files or folders (repeatable)",
        show_default=False,
    ),
]
TemplatesOption = Annotated[
    Path | None,
    typer.Option("--templates", envvar="JOURNEYS_TEMPLATES", help="folder of message templates", show_default=False),
]
PausedOption = Annotated[
    list[str] | None,
    typer.Option("--paused", envvar="JOURNEYS_PAUSED", help="id of a paused journey (repeatable)", show_default=False),
]


def _parse_until(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise JourneysError(f"--until {text!r} is not an ISO-8601 time (e.g. 2026-11-30T00:00:00Z)") from None
    if value.tzinfo is None:
        raise JourneysError(f"--until {text!r} has no timezone (add Z or an offset)")
    return value


def simulate(
    journeys: JourneysOption,
    events: Annotated[
        Path, typer.Option("--events", envvar="JOURNEYS_EVENTS", help="events, one JSON per line", show_default=False)
    ],
    out: Annotated[
        Path, typer.Option("--out", envvar="JOURNEYS_OUT", help="folder for actions.jsonl, outcomes.jsonl")
    ] = Path("simulation"),
    templates: TemplatesOption = None,
    until: Annotated[
        str | None,
        typer.Option("--until", envvar="JOURNEYS_UNTIL", help="stop time here (ISO-8601); timers after it never fire"),
    ] = None,
    horizon: Annotated[
        str,
        typer.Option(
            "--horizon", envvar="JOURNEYS_HORIZON", help="without --until: run timers this long past the last event"
        ),
    ] = "365d",
    parallelism: Annotated[
        int | None, typer.Option("--parallelism", envvar="JOURNEYS_PARALLELISM", min=1, show_default=False)
    ] = None,
    paused: PausedOption = None,
    settings: SettingsOption = None,
) -> None:
    """Run the compiled journeys on the local Flink mini-cluster over a file of events.

    Event time comes from the events; the job ends when every journey has nothing left to do
    (up to --until, or the last event plus --horizon).
    """
    from jobs.runner import load_plan
    from jobs.runner import simulate as run_simulation

    conf = load_settings(settings)
    plan = load_plan(journeys, templates, paused or ())
    summary = run_simulation(
        conf,
        plan,
        events,
        out,
        until=_parse_until(until),
        horizon=parse_duration(horizon),
        parallelism=parallelism,
    )
    for line in summary.lines():
        typer.echo(line)
    typer.echo(f"wrote {out / 'actions.jsonl'}, {out / 'outcomes.jsonl'}, {out / 'rejected.jsonl'}")


def run(
    journeys: JourneysOption,
    templates: TemplatesOption = None,
    restore: Annotated[
        Path | None,
        typer.Option(
            "--from",
            envvar="JOURNEYS_RESTORE",
            help="checkpoint or savepoint folder to resume from (default: this job's newest checkpoint)",
            show_default=False,
        ),
    ] = None,
    fresh: Annotated[
        bool, typer.Option("--fresh", envvar="JOURNEYS_FRESH", help="ignore retained checkpoints; start empty")
    ] = False,
    paused: PausedOption = None,
    settings: SettingsOption = None,
) -> None:
    """Run the journeys job against Kafka (unbounded, checkpointed) until stopped.

    Reads `events`; writes `actions.<channel>`, `outcomes` and `events.rejected`. After a crash,
    running it again resumes from the newest checkpoint.
    """
    from jobs.publish import publish as publish_plan
    from jobs.runner import load_journeys
    from jobs.runner import run as run_job

    conf = load_settings(settings)
    bundle = load_journeys(journeys, templates)
    # What the job starts with is what is published: the definitions topic stays the one truth.
    publication = publish_plan(conf, bundle.journeys, bundle.templates, paused or (), always=True)
    _print_publication(publication)
    plan = publication.plan

    def submitted(client, restored) -> None:
        versions = len(plan.journeys)
        typer.echo(f"job {conf.flink.job_name} ({client.get_job_id()}) running: {versions} journey version(s)")
        typer.echo(f"resumed from {restored}" if restored else "started with empty state")
        typer.echo(f"Flink dashboard: {conf.flink.web_url}")

    run_job(conf, plan, restore=restore, fresh=fresh, on_submitted=submitted)


def _print_publication(publication) -> None:
    for jid, version in publication.new_versions:
        typer.echo(f"published {jid} version {version}")
    for jid, version in publication.unchanged:
        typer.echo(f"{jid} version {version} unchanged")
    if publication.needs_restart_for:
        typer.echo(
            "the running job drops these event types before they reach the journeys: "
            + ", ".join(publication.needs_restart_for)
            + "; restart it (journeys run resumes from its checkpoint) to let them in"
        )


def publish(
    journeys: JourneysOption,
    templates: TemplatesOption = None,
    paused: PausedOption = None,
    settings: SettingsOption = None,
) -> None:
    """Publish journeys to the running job (definitions topic): changed journeys get a new version,
    new entrants get it at once, users inside finish on the version they entered with."""
    from jobs.publish import publish as publish_plan
    from jobs.runner import load_journeys

    conf = load_settings(settings)
    bundle = load_journeys(journeys, templates)
    _print_publication(publish_plan(conf, bundle.journeys, bundle.templates, paused or ()))


def register(app: typer.Typer) -> None:
    """Add `simulate` and `run` to the CLI."""
    app.command("simulate")(simulate)
    app.command("run")(run)
    app.command("publish")(publish)
