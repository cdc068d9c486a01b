"""Topic administration with kafka-python."""

from __future__ import annotations

import contextlib

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from jobs.settings import Settings


def ensure_topics(
    settings: Settings,
    topics: list[str],
    partitions: int | None = None,
    configs: dict[str, str] | None = None,
) -> list[str]:
    """Create the topics that do not exist yet (with topic `configs`); returns those it created."""
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka.bootstrap_servers, request_timeout_ms=15000)
    try:
        existing = set(admin.list_topics())
        missing = [t for t in topics if t not in existing]
        if missing:
            count = partitions or settings.kafka.partitions
            # Another process may create them between our list and create.
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics([NewTopic(t, count, 1, topic_configs=configs or {}) for t in missing])
        return missing
    finally:
        admin.close()


def delete_topics(settings: Settings, topics: list[str]) -> None:
    """Delete topics that exist (tests use this to start from empty topics)."""
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka.bootstrap_servers, request_timeout_ms=15000)
    try:
        existing = set(admin.list_topics())
        doomed = [t for t in topics if t in existing]
        if doomed:
            admin.delete_topics(doomed)
    finally:
        admin.close()
