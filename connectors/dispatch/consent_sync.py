"""Keeping the dispatchers' consent and suppression in Redis in step with the event stream.

The job learns consent from `consent.updated` events in its own state; the dispatchers check Redis
at send time. This consumer (group `<group_prefix>-<topic prefix>consent`, on `events`) writes every
`consent.updated` (`props: {channel, category, status}`; a missing channel or category means all)
and `user.deleted` (the user goes on the suppression list, their consent is forgotten) to Redis,
so an opt-out that arrives while the user's message waits in `actions.<channel>` still stops it.
Events of other types are skipped before parsing (a byte search), so following the whole stream
stays cheap. Writes are idempotent; offsets are committed after the writes.
"""

from __future__ import annotations

import logging
import threading

from kafka import KafkaConsumer
from kafka.errors import CommitFailedError, KafkaError
from pydantic import ValidationError

from connectors.dispatch.consent import ConsentStatus, ConsentStore
from connectors.dispatch.publisher import topic_name
from connectors.topics import EVENTS
from jobs.settings import Settings
from jobs.spec.records import CONSENT_UPDATED, USER_DELETED, Event

log = logging.getLogger(__name__)

_MARKERS = (f'"{CONSENT_UPDATED}"'.encode(), f'"{USER_DELETED}"'.encode())


def apply_event(store: ConsentStore, event: Event) -> bool:
    """Write what one event says about consent or erasure; True if it said anything."""
    if event.type == USER_DELETED:
        store.suppress_user(event.user_id)
        store.forget_user(event.user_id)
        return True
    if event.type != CONSENT_UPDATED:
        return False
    try:
        status = ConsentStatus(str(event.props.get("status")))
    except ValueError:
        log.warning("consent.updated %s without a valid status; ignored", event.event_id)
        return False
    channel = str(event.props.get("channel") or "*")
    category = str(event.props.get("category") or "*")
    store.set_consent(event.user_id, channel, category, status)
    return True


class ConsentSync:
    """Follows `events` and mirrors consent and erasure into Redis until `stop` is set."""

    def __init__(self, settings: Settings, store: ConsentStore, stop: threading.Event, *, group_id: str | None = None):
        self.settings = settings
        self.store = store
        self.stop = stop
        self.group_id = group_id or f"{settings.dispatch.group_prefix}-{settings.kafka.topic_prefix}consent"
        self.applied = 0

    def run(self) -> None:
        """Consume until stopped."""
        consumer = KafkaConsumer(
            topic_name(self.settings, EVENTS),
            bootstrap_servers=self.settings.kafka.bootstrap_servers,
            group_id=self.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            check_crcs=False,
            max_poll_records=2000,
        )
        try:
            while not self.stop.is_set():
                polled = consumer.poll(timeout_ms=self.settings.dispatch.poll_timeout_ms)
                if not polled:
                    continue
                for records in polled.values():
                    for record in records:
                        value = record.value or b""
                        if not any(m in value for m in _MARKERS):
                            continue
                        try:
                            event = Event.from_json(value)
                        except (ValidationError, ValueError):
                            continue
                        if apply_event(self.store, event):
                            self.applied += 1
                try:
                    consumer.commit()
                except CommitFailedError:
                    log.warning("consent sync: offsets not committed (group rebalanced); the writes are idempotent")
        finally:
            try:
                consumer.close(autocommit=False)
            except KafkaError:
                log.debug("closing the consent consumer failed", exc_info=True)
