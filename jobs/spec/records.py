"""Wire records shared by every part: events in, actions / outcomes / deliveries out.

Fields are exactly those of DESIGN.md ("Contracts"), plus a few optional ones noted below.
Timestamps are timezone-aware (naive ones are rejected), normalized to UTC and written as
`2026-11-22T10:00:00Z`. Each record has `to_json()` / `from_json()` (bytes or str).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from jobs.spec.durations import AwareDatetime
from jobs.spec.nodes import Priority

# Reserved event types (DESIGN.md, "Event").
IDENTIFY = "identify"
CONSENT_UPDATED = "consent.updated"
USER_DELETED = "user.deleted"
SEGMENT_ENTERED = "segment.entered"
SEGMENT_EXITED = "segment.exited"
MESSAGE_EVENTS: tuple[str, ...] = (
    "message.delivered",
    "message.opened",
    "message.clicked",
    "message.bounced",
    "message.failed",
    "message.unsubscribed",
)
#: API-triggered entry (`entry: {api: true}`): `props.journey_id` names the journey.
JOURNEY_TRIGGERED = "journey.triggered"
RESERVED_EVENT_TYPES: frozenset[str] = frozenset(
    {
        IDENTIFY,
        CONSENT_UPDATED,
        USER_DELETED,
        SEGMENT_ENTERED,
        SEGMENT_EXITED,
        JOURNEY_TRIGGERED,
        *MESSAGE_EVENTS,
    }
)


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    def to_json(self) -> bytes:
        """The record as compact JSON bytes (UTF-8)."""
        return self.model_dump_json(exclude_none=False).encode()

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON-ready data (timestamps as strings)."""
        return self.model_dump(mode="json")

    @classmethod
    def from_json(cls, data: bytes | str) -> Self:
        """Parse a record from JSON; raises pydantic ValidationError."""
        return cls.model_validate_json(data)


class EventContext(BaseModel):
    """Where an event came from; `tz` is the user's IANA timezone when known. Other keys are kept."""

    model_config = ConfigDict(frozen=True, extra="allow")

    tz: str | None = None
    locale: str | None = None
    device: str | None = None


class Event(_Record):
    """An event on topic `events` (key = user_id). `event_id` is the idempotency key."""

    event_id: str = Field(min_length=1)
    type: str = Field(min_length=1)
    user_id: str = Field(min_length=1)
    ts: AwareDatetime
    props: dict[str, Any] = Field(default_factory=dict)
    context: EventContext = Field(default_factory=EventContext)
    traits: dict[str, Any] = Field(default_factory=dict)


def make_action_id(journey_id: str, version: int, user_id: str, node_id: str, entry: int) -> str:
    """The deterministic id of an action: `journey:version:user:node:entry`."""
    return f"{journey_id}:{version}:{user_id}:{node_id}:{entry}"


def parse_action_id(action_id: str) -> tuple[str, int, str, str, int]:
    """Split an action id into (journey_id, version, user_id, node_id, entry).

    Journey and node ids never contain `:`, so a user id may.
    """
    journey_id, version, rest = action_id.split(":", 2)
    user_id, node_id, entry = rest.rsplit(":", 2)
    return journey_id, int(version), user_id, node_id, int(entry)


class ActionRecord(_Record):
    """An action for a dispatcher, on topic `actions.<channel>` (key = user_id).

    `ts` is the event time at which the node ran; `emitted_at` is wall-clock. `fallback` is the
    fallback channel, if any. Extension: `params` carries the parameters of actions without a
    template (inline webhooks, feature flags, plugin kinds).
    """

    action_id: str = Field(min_length=1)
    journey_id: str
    version: int = Field(ge=1)
    node_id: str
    user_id: str
    channel: str
    template: str | None = None
    category: str = "marketing"
    priority: Priority = Priority.MARKETING
    vars: dict[str, Any] = Field(default_factory=dict)
    to: dict[str, str] = Field(default_factory=dict)
    fallback: str | None = None
    not_after: AwareDatetime | None = None
    trigger_event_id: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    ts: AwareDatetime
    emitted_at: AwareDatetime


class OutcomeKind(StrEnum):
    """What happened to a user in a journey."""

    ENTERED = "entered"
    NODE = "node"
    BRANCH = "branch"
    SPLIT = "split"
    ACTION = "action"
    SUPPRESSED = "suppressed"
    CONVERTED = "converted"
    EXITED = "exited"
    ERROR = "error"


class SuppressionReason(StrEnum):
    """Why a message was not sent (`detail` of a `suppressed` outcome)."""

    CAP = "cap"
    CONSENT = "consent"
    QUIET_HOURS = "quiet_hours"
    HOLDOUT = "holdout"
    SCHEDULE = "schedule"
    ERASED = "erased"
    NO_ADDRESS = "no_address"
    SUPPRESSION_LIST = "suppression_list"


class ExitReason(StrEnum):
    """Why a user left a journey (`detail` of an `exited` outcome)."""

    COMPLETED = "completed"  # reached an exit node
    GOAL = "goal"
    EXIT_ON = "exit_on"
    ERASED = "erased"
    STOPPED = "stopped"
    ERROR = "error"


class OutcomeRecord(_Record):
    """One thing that happened to a user in a journey (topic `outcomes`): the audit trail.

    `detail` holds the case taken (branch), variant (split), suppression reason (suppressed),
    goal (converted), exit reason (exited) or error message. Extensions: `entry` (instance
    number), `action_id` (action / suppressed), `event_id` (the trigger event).
    """

    journey_id: str
    version: int = Field(ge=1)
    user_id: str
    node_id: str | None = None
    kind: OutcomeKind
    detail: str | None = None
    entry: int | None = None
    action_id: str | None = None
    event_id: str | None = None
    ts: AwareDatetime
    emitted_at: AwareDatetime

    @model_validator(mode="after")
    def _reason_known(self) -> OutcomeRecord:
        if self.kind is OutcomeKind.SUPPRESSED and self.detail not in set(SuppressionReason):
            raise ValueError(f"a suppressed outcome needs a reason in detail, one of {', '.join(SuppressionReason)}")
        return self


class DeliveryStatus(StrEnum):
    """The result of one delivery attempt or a later provider report."""

    SENT = "sent"
    RETRYING = "retrying"
    DELIVERED = "delivered"
    OPENED = "opened"
    CLICKED = "clicked"
    BOUNCED = "bounced"
    FAILED = "failed"
    UNSUBSCRIBED = "unsubscribed"
    SUPPRESSED = "suppressed"
    DUPLICATE = "duplicate"


class DeliveryRecord(_Record):
    """A delivery attempt or report on topic `deliveries`.

    Extensions: `user_id`, `journey_id`, `node_id` so the record can be fed back as a
    `message.*` event without parsing `action_id`.
    """

    action_id: str = Field(min_length=1)
    channel: str
    status: DeliveryStatus
    provider_id: str | None = None
    attempt: int = Field(default=1, ge=1)
    error: str | None = None
    ts: AwareDatetime
    user_id: str | None = None
    journey_id: str | None = None
    node_id: str | None = None
