"""Kafka topic names of the design's contracts, in one place."""

from __future__ import annotations

# The built-in delivery channels; plugin channels get their topics when their dispatcher starts.
CHANNELS: tuple[str, ...] = ("email", "sms", "push", "in_app", "webhook", "slack", "flag")

EVENTS = "events"
OUTCOMES = "outcomes"
DELIVERIES = "deliveries"
EVENTS_REJECTED = "events.rejected"
# The published journey plan (compacted, one partition): the running job switches to each new one.
DEFINITIONS = "journeys.definitions"
DEFINITIONS_CONFIG = {"cleanup.policy": "compact"}


def actions_topic(channel: str) -> str:
    """Where the job writes actions for `channel`."""
    return f"actions.{channel}"


def dlq_topic(channel: str) -> str:
    """Where dispatchers put actions of `channel` that could not be delivered."""
    return f"dlq.{channel}"


def all_topics(channels: tuple[str, ...] = CHANNELS) -> list[str]:
    """Every topic the platform creates up front."""
    per_channel = [t for ch in channels for t in (actions_topic(ch), dlq_topic(ch))]
    return [EVENTS, OUTCOMES, DELIVERIES, EVENTS_REJECTED, *per_channel]
