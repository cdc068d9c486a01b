"""A channel's dispatcher: a Kafka consumer group member on `actions.<channel>`.

Run as many workers per channel as you like (processes or machines): Kafka spreads the partitions
over the group, Redis keeps the sends exactly-once and the rate limit global. Each poll is a batch:

1. read the records (unreadable ones are dead-lettered as `malformed`);
2. fold repeats of an `action_id` inside the batch; look up every action's send state and check
   consent and suppression, each in one Redis round trip;
3. process the actions on `dispatch.concurrency` sender threads (see `processor.py`);
4. flush the producer (deliveries, feedback events, dead letters), flag the final states as
   recorded, and only then commit the offsets.

On stop (SIGTERM), sends in progress finish and are recorded; actions not started are left
uncommitted for the next worker, and the consumer leaves the group. If Redis or Kafka fail in the
middle of a batch, the unfinished part is read again after a pause: nothing is skipped.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from datetime import UTC, datetime

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import CommitFailedError, KafkaError
from kafka.structs import OffsetAndMetadata
from pydantic import ValidationError

from connectors.dispatch.consent import SendCheck, Verdict
from connectors.dispatch.deadletter import DeadLetter, DeadLetterReason, SourceOffset
from connectors.dispatch.masking import mask_text
from connectors.dispatch.plugin import OutgoingMessage
from connectors.dispatch.processor import ABANDONED, ChannelRuntime, Outcome, Result, Sender, WorkItem, new_sender
from connectors.dispatch.publisher import topic_name
from connectors.topics import actions_topic
from jobs.spec.records import ActionRecord, DeliveryRecord, DeliveryStatus

log = logging.getLogger(__name__)

_RETRY_PAUSE_S = 2.0
# Actions a sender claims at once (at most); smaller chunks spread a batch better over senders.
_CHUNK = 32
_DRAIN_EVERY_S = 0.05

Outcomes = dict[tuple[int, int], Outcome]
"""Outcomes of a batch's records by (partition, offset)."""


class _Record:
    """A consumed record's coordinates and value."""

    __slots__ = ("offset", "partition", "topic", "value")

    def __init__(self, topic: str, partition: int, offset: int, value: bytes | None) -> None:
        self.topic, self.partition, self.offset, self.value = topic, partition, offset, value


class ChannelWorker:
    """Consumes `actions.<channel>` and dispatches each batch; `run()` blocks until `stop` is set."""

    def __init__(self, runtime: ChannelRuntime, *, group_id: str | None = None, concurrency: int | None = None):
        self.rt = runtime
        d = runtime.settings.dispatch
        # The topic prefix names an installation; its groups must not mix with another's.
        self.group_id = group_id or f"{d.group_prefix}-{runtime.settings.kafka.topic_prefix}{runtime.channel}"
        self.concurrency = concurrency or d.concurrency
        self.topic = topic_name(runtime.settings, actions_topic(runtime.channel))
        self._senders: list[Sender] = []
        self._local = threading.local()
        self._senders_lock = threading.Lock()
        self.batches = 0
        #: Called after each batch is committed (tests and benchmarks watch progress with it).
        self.on_batch: Callable[[ChannelWorker], None] | None = None

    # Sender threads ---------------------------------------------------------------------------

    def _sender(self) -> Sender:
        sender = getattr(self._local, "sender", None)
        if sender is None:
            sender = new_sender(self.rt)
            self._local.sender = sender
            with self._senders_lock:
                self._senders.append(sender)
        return sender

    def _process(self, items: list[WorkItem]) -> list[Outcome]:
        return self._sender().process_chunk(items)

    # The loop ---------------------------------------------------------------------------------

    def _consumer(self) -> KafkaConsumer:
        s = self.rt.settings
        return KafkaConsumer(
            self.topic,
            bootstrap_servers=s.kafka.bootstrap_servers,
            group_id=self.group_id,
            client_id=f"{self.rt.worker_id}-{self.rt.channel}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            # The job writes actions in Kafka transactions: only committed ones are real.
            isolation_level="read_committed",
            check_crcs=False,
            max_poll_records=s.dispatch.batch_size,
            session_timeout_ms=s.dispatch.session_timeout_ms,
            heartbeat_interval_ms=max(s.dispatch.session_timeout_ms // 4, 500),
            # Retries with backoff can hold a batch for minutes; that is not a dead consumer.
            max_poll_interval_ms=900_000,
        )

    def run(self) -> None:
        """Consume and dispatch until the runtime's stop event is set."""
        consumer = self._consumer()
        pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix=f"send-{self.rt.channel}")
        log.info("%s: consuming %s as group %s with %d sender(s)", self.rt.channel, self.topic, self.group_id,
                 self.concurrency)
        try:
            while not self.rt.stop.is_set():
                polled = consumer.poll(timeout_ms=self.rt.settings.dispatch.poll_timeout_ms)
                records = [
                    _Record(r.topic, r.partition, r.offset, r.value) for batch in polled.values() for r in batch
                ]
                if records:
                    self._batch(consumer, pool, records)
        finally:
            pool.shutdown(wait=True)
            for sender in self._senders:
                try:
                    sender.close()
                except Exception:  # closing must not hide the reason we stopped
                    log.debug("closing a sender failed", exc_info=True)
            try:
                consumer.close(autocommit=False)
            except KafkaError:
                log.debug("closing the consumer failed", exc_info=True)
            log.info("%s: stopped; %s", self.rt.channel, self.rt.stats.snapshot())

    def _read(self, records: list[_Record]) -> tuple[list[tuple[_Record, WorkItem]], list[_Record]]:
        items: list[tuple[_Record, WorkItem]] = []
        bad: list[_Record] = []
        for rec in records:
            try:
                action = ActionRecord.from_json(rec.value or b"")
            except (ValidationError, ValueError):
                bad.append(rec)
                continue
            items.append((rec, WorkItem(action=action, source=SourceOffset(
                topic=rec.topic, partition=rec.partition, offset=rec.offset))))
        return items, bad

    def _dead_letter_malformed(self, rec: _Record) -> None:
        raw = (rec.value or b"").decode(errors="replace")
        self.rt.publisher.dead_letter(
            DeadLetter(
                channel=self.rt.channel,
                reason=DeadLetterReason.MALFORMED,
                error="not a valid action record",
                raw=mask_text(raw[:10_000]),
                source=SourceOffset(topic=rec.topic, partition=rec.partition, offset=rec.offset),
                failed_at=_utcnow(),
                worker=self.rt.worker_id,
            )
        )
        self.rt.stats.add("malformed")

    def _checks(self, items: list[WorkItem]) -> list[Verdict | None]:
        plugin = self.rt.plugin
        todo = [i for i, item in enumerate(items) if item.state is None or not item.state.final]
        checks = [
            SendCheck(
                user_id=items[i].action.user_id,
                channel=self.rt.channel,
                category=items[i].action.category,
                address=OutgoingMessage(action=items[i].action).address(plugin.address_trait)
                if plugin.address_trait else None,
                consent_applies=plugin.checks_consent,
            )
            for i in todo
        ]
        verdicts: list[Verdict | None] = [None] * len(items)
        for i, verdict in zip(todo, self.rt.consent.check_many(checks), strict=True):
            verdicts[i] = verdict
        return verdicts

    def _batch(self, consumer: KafkaConsumer, pool: ThreadPoolExecutor, records: list[_Record]) -> None:
        outcomes: Outcomes = {}
        try:
            items, bad = self._read(records)
            for rec in bad:
                self._dead_letter_malformed(rec)
                outcomes[(rec.partition, rec.offset)] = Outcome(result=Result.SETTLED)
            first: dict[str, tuple[_Record, WorkItem]] = {}
            repeats: list[tuple[_Record, WorkItem]] = []
            for rec, item in items:
                if item.action.action_id in first:
                    repeats.append((rec, item))
                else:
                    first[item.action.action_id] = (rec, item)
            states = self.rt.dedupe.peek(first)
            unique = [item.model_copy(update={"state": states[a]}) for a, (_, item) in first.items()]
            verdicts = self._checks(unique)
            unique = [item.model_copy(update={"verdict": v}) for item, v in zip(unique, verdicts, strict=True)]
        except Exception:
            log.exception("%s: cannot prepare a batch; reading it again in %.0fs", self.rt.channel, _RETRY_PAUSE_S)
            self._rewind(consumer, records, {})
            return
        # Chunks rather than single actions: a sender claims a chunk in one round trip to Redis.
        size = max(1, min(_CHUNK, -(-len(unique) // self.concurrency)))
        chunks = [unique[i : i + size] for i in range(0, len(unique), size)]
        futures = [(chunk, pool.submit(self._process, chunk)) for chunk in chunks]
        # While the senders work, hand their records to the producer now and then, so that at the
        # end of the batch the flush only waits for the last few.
        pending = {f for _, f in futures}
        while pending:
            _, pending = wait(pending, timeout=_DRAIN_EVERY_S, return_when=FIRST_EXCEPTION)
            self.rt.publisher.drain()
        by_id: dict[str, Outcome] = {}
        for chunk, future in futures:
            try:
                results = future.result()
            except Exception:
                log.exception("%s: a chunk of %d action(s) failed; it will be read again", self.rt.channel,
                              len(chunk))
                results = [ABANDONED] * len(chunk)
            for item, outcome in zip(chunk, results, strict=True):
                rec = first[item.action.action_id][0]
                outcomes[(rec.partition, rec.offset)] = outcome
                by_id[item.action.action_id] = outcome
        for rec, item in repeats:
            outcome = by_id.get(item.action.action_id, ABANDONED)
            if outcome.result is Result.SETTLED:
                self.rt.publisher.delivery(
                    DeliveryRecord(
                        action_id=item.action.action_id, channel=self.rt.channel, status=DeliveryStatus.DUPLICATE,
                        ts=_utcnow(), user_id=item.action.user_id, journey_id=item.action.journey_id,
                        node_id=item.action.node_id,
                    )
                )
                self.rt.stats.add("duplicate")
            outcomes[(rec.partition, rec.offset)] = outcome
        try:
            for sender in list(self._senders):
                sender.session.settle()
            self.rt.publisher.flush()
            finals = {
                action_id: o.final
                for action_id, o in by_id.items()
                if o.final is not None and not o.final.recorded
            }
            self.rt.dedupe.mark_recorded(finals)
        except Exception:
            log.exception("%s: cannot record a batch; reading it again in %.0fs", self.rt.channel, _RETRY_PAUSE_S)
            self._rewind(consumer, records, {})
            return
        self._commit(consumer, records, outcomes)
        if not self.rt.stop.is_set() and any(o.result is Result.ABANDONED for o in outcomes.values()):
            self._rewind(consumer, records, outcomes)
        self.batches += 1
        if self.on_batch is not None:
            self.on_batch(self)

    @staticmethod
    def _resume_points(records: list[_Record], outcomes: Outcomes) -> dict[TopicPartition, int]:
        """Per partition, the offset to resume from: the first unsettled record, else after the last."""
        points: dict[TopicPartition, int] = {}
        pending: dict[TopicPartition, int] = {}
        for rec in records:
            tp = TopicPartition(rec.topic, rec.partition)
            outcome = outcomes.get((rec.partition, rec.offset))
            points[tp] = max(points.get(tp, 0), rec.offset + 1)
            if outcome is None or outcome.result is not Result.SETTLED:
                pending[tp] = min(pending.get(tp, rec.offset), rec.offset)
        points.update(pending)
        return points

    def _commit(self, consumer: KafkaConsumer, records: list[_Record], outcomes: Outcomes) -> None:
        offsets = {tp: OffsetAndMetadata(o, "", -1) for tp, o in self._resume_points(records, outcomes).items()}
        try:
            consumer.commit(offsets)
        except CommitFailedError:
            # The group rebalanced while we worked; the new owner re-reads and finds these settled.
            log.warning("%s: offsets not committed (group rebalanced); the new owner skips what is done",
                        self.rt.channel)

    def _rewind(self, consumer: KafkaConsumer, records: list[_Record], outcomes: Outcomes) -> None:
        for tp, offset in self._resume_points(records, outcomes).items():
            try:
                consumer.seek(tp, offset)
            except (KafkaError, AssertionError, ValueError):
                log.debug("cannot seek %s (no longer assigned)", tp)
        self.rt.stop.wait(_RETRY_PAUSE_S)


def _utcnow() -> datetime:
    return datetime.now(UTC)
