"""Listing dead letters and sending them again (`journeys dlq list|replay`).

A dead-letter topic is a log: every entry stays there. Whether an entry still needs attention is
told by its action's send state in Redis: `dead` (dead-lettered, not replayed), `replaying`
(re-enqueued, not yet processed), `delivered` (a replay went through) or `unknown` (the state
expired). `replay` re-enqueues dead actions on `actions.<channel>` after marking them replayable,
so the dispatcher sends them once more (and only once, however often replay is run).
"""

from __future__ import annotations

from collections.abc import Iterable

from kafka import KafkaConsumer, TopicPartition
from pydantic import BaseModel, ConfigDict, ValidationError

from connectors.dispatch.deadletter import DeadLetter, DeadLetterReason
from connectors.dispatch.dedupe import DedupeStore, SendState, StateCode
from connectors.dispatch.keys import redis_client
from connectors.dispatch.publisher import Publisher, topic_name
from connectors.topics import dlq_topic
from jobs.settings import Settings


class DeadLetterEntry(BaseModel):
    """A dead letter, where it sits in its topic, and where its action stands now."""

    model_config = ConfigDict(frozen=True)

    partition: int
    offset: int
    letter: DeadLetter
    status: str


def _status(state: SendState | None) -> str:
    if state is None:
        return "unknown"
    return {
        StateCode.FAILED: "dead",
        StateCode.REPLAY: "replaying",
        StateCode.DONE: "delivered",
        StateCode.SUPPRESSED: "suppressed",
    }.get(state.code, "sending")


def read_dead_letters(settings: Settings, channel: str, *, timeout_s: float = 10.0) -> list[DeadLetterEntry]:
    """Every entry of `dlq.<channel>`, oldest first per partition, with its action's status."""
    topic = topic_name(settings, dlq_topic(channel))
    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka.bootstrap_servers,
        enable_auto_commit=False,
        group_id=None,
        consumer_timeout_ms=int(timeout_s * 1000),
    )
    letters: list[tuple[int, int, DeadLetter]] = []
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not tps:
            return []
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        end = consumer.end_offsets(tps)
        remaining = {tp for tp in tps if end[tp] > 0}
        while remaining:
            polled = consumer.poll(timeout_ms=int(timeout_s * 1000))
            if not polled:
                break
            for tp, records in polled.items():
                for rec in records:
                    try:
                        letters.append((rec.partition, rec.offset, DeadLetter.from_json(rec.value)))
                    except (ValidationError, ValueError):
                        continue
                    if rec.offset + 1 >= end[tp]:
                        remaining.discard(tp)
    finally:
        consumer.close()
    client = redis_client(settings)
    try:
        store = DedupeStore(client, settings.dispatch.dedupe_ttl_s)
        states = store.peek({lt.action_id for _, _, lt in letters if lt.action_id})
    finally:
        client.close()
    return [
        DeadLetterEntry(
            partition=p, offset=o, letter=lt, status=_status(states.get(lt.action_id)) if lt.action_id else "malformed"
        )
        for p, o, lt in letters
    ]


class ReplayReport(BaseModel):
    """What `replay` did."""

    model_config = ConfigDict(frozen=True)

    replayed: list[str]
    skipped: dict[str, str]


def replay(
    settings: Settings,
    channel: str,
    *,
    action_ids: Iterable[str] = (),
    reason: DeadLetterReason | None = None,
    force: bool = False,
    dry_run: bool = False,
) -> ReplayReport:
    """Re-enqueue dead actions of `channel` (all, or those named / with `reason`).

    Only actions still dead are replayed, unless `force` (then any entry with a readable action).
    """
    wanted = set(action_ids)
    latest: dict[str, DeadLetterEntry] = {}
    for entry in read_dead_letters(settings, channel):
        if entry.letter.action is None:
            continue
        action_id = entry.letter.action.action_id
        if wanted and action_id not in wanted:
            continue
        if reason is not None and entry.letter.reason is not reason:
            continue
        latest[action_id] = entry
    replayed: list[str] = []
    skipped: dict[str, str] = {a: "not in the dead-letter topic" for a in wanted - latest.keys()}
    client = redis_client(settings)
    publisher = None if dry_run else Publisher(settings, feedback=False, client_id="journeys-dlq-replay")
    try:
        store = DedupeStore(client, settings.dispatch.dedupe_ttl_s)
        for action_id, entry in latest.items():
            if entry.status != "dead" and not force:
                skipped[action_id] = f"status {entry.status}"
                continue
            if dry_run:
                replayed.append(action_id)
                continue
            if not store.allow_replay(action_id):
                if not force:
                    skipped[action_id] = "no longer dead"
                    continue
                store.finish(action_id, SendState(code=StateCode.REPLAY, at_ms=0))
            assert publisher is not None and entry.letter.action is not None
            publisher.action(channel, entry.letter.action)
            replayed.append(action_id)
        if publisher is not None:
            publisher.flush()
    finally:
        if publisher is not None:
            publisher.close()
        client.close()
    return ReplayReport(replayed=replayed, skipped=skipped)
