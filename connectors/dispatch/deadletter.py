"""Dead letters: actions that could not be delivered, on `dlq.<channel>` (key = user_id).

A dead letter keeps the whole action (or the raw bytes of an unreadable record), why it failed
and how many attempts were made, so `journeys dlq replay` can send it again once the cause is
fixed (a template corrected, a provider credential renewed).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict

from jobs.spec.durations import AwareDatetime
from jobs.spec.records import ActionRecord


class DeadLetterReason(StrEnum):
    """Why an action was dead-lettered."""

    TEMPLATE = "template"  # missing template, or a variable with no value and no default
    PERMANENT = "permanent"  # the provider refused it for good (4xx)
    BOUNCED = "bounced"  # the address does not exist or cannot receive
    RETRIES_EXHAUSTED = "retries_exhausted"  # transient failures, every attempt used
    MALFORMED = "malformed"  # the record on actions.<channel> is not a valid action


class SourceOffset(BaseModel):
    """Where the action was read from."""

    model_config = ConfigDict(frozen=True)

    topic: str
    partition: int
    offset: int


class DeadLetter(BaseModel):
    """One undeliverable action."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    channel: str
    reason: DeadLetterReason
    error: str
    attempts: int = 0
    action: ActionRecord | None = None
    raw: str | None = None
    source: SourceOffset | None = None
    failed_at: AwareDatetime
    worker: str

    @property
    def action_id(self) -> str | None:
        """The action's id, when the record could be read."""
        return self.action.action_id if self.action else None

    def to_json(self) -> bytes:
        """Compact JSON bytes."""
        return self.model_dump_json().encode()

    @classmethod
    def from_json(cls, data: bytes | str) -> Self:
        """Parse; raises pydantic ValidationError."""
        return cls.model_validate_json(data)
