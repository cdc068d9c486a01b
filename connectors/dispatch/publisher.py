"""Writing what dispatchers produce to Kafka: delivery records, feedback events, dead letters.

Every topic name gets `kafka.topic_prefix`. Sends are asynchronous; `flush()` waits until the
broker acknowledged all of them, and the worker commits its input offsets only after that.
"""

from __future__ import annotations

import threading
from collections import deque

from kafka import KafkaProducer

from connectors.dispatch.deadletter import DeadLetter
from connectors.dispatch.feedback import feedback_event
from connectors.topics import DELIVERIES, EVENTS, dlq_topic
from jobs.settings import Settings
from jobs.spec.records import ActionRecord, DeliveryRecord


def topic_name(settings: Settings, name: str) -> str:
    """A topic's full name (with the configured prefix)."""
    return settings.kafka.topic_prefix + name


class Publisher:
    """One idempotent producer shared by a worker's threads (kafka-python's producer is thread-safe)."""

    def __init__(self, settings: Settings, *, feedback: bool | None = None, client_id: str = "journeys-dispatch"):
        self.settings = settings
        self.feedback = settings.dispatch.feedback if feedback is None else feedback
        self._producer = KafkaProducer(
            bootstrap_servers=settings.kafka.bootstrap_servers,
            client_id=client_id,
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
            batch_size=64 * 1024,
            retries=10,
            compression_type="gzip",
        )
        self._deliveries = topic_name(settings, DELIVERIES)
        self._events = topic_name(settings, EVENTS)
        self._errors: list[Exception] = []
        self._lock = threading.Lock()
        self._buffer: deque[tuple[str, bytes | None, bytes]] = deque()
        self._drain_lock = threading.Lock()

    def _on_error(self, exc: Exception) -> None:
        with self._lock:
            self._errors.append(exc)

    def _send(self, topic: str, key: str | None, value: bytes) -> None:
        # Buffered and handed to the producer in `flush()`, from one thread: sender threads then
        # never wake the producer's I/O thread message by message.
        self._buffer.append((topic, key.encode() if key else None, value))

    def drain(self) -> None:
        """Hand the buffered records to the producer (it sends them in the background)."""
        with self._drain_lock:
            self._drain()

    def _drain(self) -> None:
        while self._buffer:
            topic, key, value = self._buffer.popleft()
            self._producer.send(topic, key=key, value=value).add_errback(self._on_error)

    def delivery(self, record: DeliveryRecord, action: ActionRecord | None = None) -> None:
        """Publish a delivery record, and its feedback event when it has one."""
        key = record.user_id or (action.user_id if action else None)
        self._send(self._deliveries, key, record.to_json())
        if self.feedback:
            event = feedback_event(record, action)
            if event is not None:
                self._send(self._events, event.user_id, event.to_json())

    def dead_letter(self, letter: DeadLetter) -> None:
        """Publish a dead letter to `dlq.<channel>`."""
        key = letter.action.user_id if letter.action else None
        self._send(topic_name(self.settings, dlq_topic(letter.channel)), key, letter.to_json())

    def action(self, channel: str, action: ActionRecord) -> None:
        """Re-enqueue an action on `actions.<channel>` (dead-letter replay)."""
        from connectors.topics import actions_topic

        self._send(topic_name(self.settings, actions_topic(channel)), action.user_id, action.to_json())

    def flush(self, timeout_s: float = 60.0) -> None:
        """Send what is buffered and wait until the broker acknowledged it; raise the first send error."""
        with self._drain_lock:
            self._drain()
        self._producer.flush(timeout=timeout_s)
        with self._lock:
            errors, self._errors = self._errors, []
        if errors:
            raise errors[0]

    def close(self) -> None:
        """Flush and close."""
        try:
            self.flush()
        finally:
            self._producer.close(timeout=10)
