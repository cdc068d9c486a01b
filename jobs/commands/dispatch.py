"""`journeys dispatch` and `journeys dlq list|replay`: the dispatcher workers and their dead letters."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from jobs.commands.common import SettingsOption, load_settings

ChannelsOption = Annotated[
    list[str],
    typer.Option(
        "--channel",
        "-c",
        envvar="JOURNEYS_DISPATCH_CHANNELS",
        help="channel to dispatch (repeatable, or comma-separated): email, sms, push, in_app, webhook, slack, "
        "flag, crm, a plugin's channel, or all (every configured one)",
    ),
]


def dispatch(
    channel: ChannelsOption,
    group: Annotated[
        str | None,
        typer.Option(
            envvar="JOURNEYS_DISPATCH_GROUP", help="consumer group (default <group_prefix>-<topic prefix><channel>)"
        ),
    ] = None,
    concurrency: Annotated[
        int | None,
        typer.Option(envvar="JOURNEYS_DISPATCH_CONCURRENCY", help="sender threads per channel", min=1),
    ] = None,
    sync_consent: Annotated[
        bool,
        typer.Option(
            envvar="JOURNEYS_DISPATCH_SYNC_CONSENT",
            help="also mirror consent.updated and user.deleted events from `events` into Redis",
        ),
    ] = True,
    log_level: Annotated[str, typer.Option(envvar="JOURNEYS_LOG_LEVEL", help="DEBUG, INFO, WARNING")] = "INFO",
    settings: SettingsOption = None,
) -> None:
    """Deliver actions from `actions.<channel>` until SIGTERM or Ctrl-C (in-flight sends finish first)."""
    from connectors.dispatch.masking import secret_values, setup_logging
    from connectors.dispatch.runner import Dispatcher

    conf = load_settings(settings)
    setup_logging(secret_values(conf), log_level)
    dispatcher = Dispatcher(conf, channel, group_id=group, concurrency=concurrency, sync_consent=sync_consent)
    for name, why in dispatcher.choice.skipped.items():
        typer.echo(f"{name}: skipped ({why})", err=True)
    if not dispatcher.choice.channels:
        typer.echo("journeys: no channel to dispatch", err=True)
        raise typer.Exit(1)
    dispatcher.install_signal_handlers()
    dispatcher.start()
    typer.echo(f"dispatching {', '.join(dispatcher.choice.channels)} as {dispatcher.worker_id}", err=True)
    dispatcher.wait()
    for name, counts in dispatcher.stats().items():
        summary = ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "nothing"
        typer.echo(f"{name}: {summary}")


dlq_app = typer.Typer(help="Dead-letter topics: list what could not be delivered, send it again.")

ChannelOption = Annotated[str, typer.Option("--channel", "-c", envvar="JOURNEYS_DLQ_CHANNEL", help="channel")]


@dlq_app.command("list")
def dlq_list(
    channel: ChannelOption,
    all_entries: Annotated[
        bool, typer.Option("--all", envvar="JOURNEYS_DLQ_ALL", help="also entries already replayed or delivered")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", envvar="JOURNEYS_DLQ_JSON", help="one JSON object a line")] = False,
    settings: SettingsOption = None,
) -> None:
    """List the dead letters of a channel (by default only those still undelivered)."""
    from connectors.dispatch.replay import read_dead_letters

    entries = read_dead_letters(load_settings(settings), channel)
    shown = [e for e in entries if all_entries or e.status in ("dead", "malformed")]
    for e in shown:
        if as_json:
            typer.echo(json.dumps({"partition": e.partition, "offset": e.offset, "status": e.status,
                                   **e.letter.model_dump(mode="json")}))
        else:
            who = e.letter.action_id or "(unreadable record)"
            typer.echo(f"{e.status:<10} {e.letter.reason.value:<18} attempts {e.letter.attempts}  {who}  "
                       f"{e.letter.error}")
    if not as_json:
        typer.echo(f"{len(shown)} of {len(entries)} dead letter(s) shown", err=True)


@dlq_app.command("replay")
def dlq_replay(
    channel: ChannelOption,
    action_id: Annotated[
        list[str] | None,
        typer.Option("--action-id", envvar="JOURNEYS_DLQ_ACTION_IDS", help="replay only these (repeatable)"),
    ] = None,
    reason: Annotated[
        str | None,
        typer.Option(envvar="JOURNEYS_DLQ_REASON", help="replay only this reason (template, permanent, bounced, "
                     "retries_exhausted)"),
    ] = None,
    force: Annotated[
        bool, typer.Option(envvar="JOURNEYS_DLQ_FORCE", help="also entries whose state is not 'dead'")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option(envvar="JOURNEYS_DLQ_DRY_RUN", help="only say what would be replayed")
    ] = False,
    settings: SettingsOption = None,
) -> None:
    """Send dead actions again through `actions.<channel>` (after fixing the cause)."""
    from connectors.dispatch.deadletter import DeadLetterReason
    from connectors.dispatch.replay import replay

    why = DeadLetterReason(reason) if reason else None
    report = replay(load_settings(settings), channel, action_ids=action_id or (), reason=why, force=force,
                    dry_run=dry_run)
    verb = "would replay" if dry_run else "replayed"
    for action in report.replayed:
        typer.echo(f"{verb} {action}")
    for action, cause in report.skipped.items():
        typer.echo(f"skipped {action}: {cause}", err=True)
    typer.echo(f"{len(report.replayed)} {verb}, {len(report.skipped)} skipped", err=True)


def register(app: typer.Typer) -> None:
    """Add `dispatch` and the `dlq` group to the CLI."""
    app.command("dispatch")(dispatch)
    app.add_typer(dlq_app, name="dlq")
