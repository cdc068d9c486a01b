"""The cheap first check of an incoming event, before it is keyed by user.

Only what keying and event time need is checked here (JSON object, `user_id`, `ts`, `type`,
`event_id`); the full model is validated by the journey operator. Everything rejected becomes a
`RejectedEvent` with a reason a person can act on, for the `events.rejected` topic. Pure Python.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict

from jobs.spec.durations import AwareDatetime
from operators.core.interpreter import to_ms

RAW_KEEP_CHARS = 10_000  # a rejected record keeps this much of the original input


class RejectedEvent(BaseModel):
    """An input that could not be processed, with why (topic `events.rejected`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    reason: str
    raw: str
    user_id: str | None = None
    event_id: str | None = None
    rejected_at: AwareDatetime

    @classmethod
    def of(cls, raw: str, reason: str, user_id: str | None = None, event_id: str | None = None) -> RejectedEvent:
        """A rejection stamped with the wall clock."""
        return cls(
            reason=reason,
            raw=raw[:RAW_KEEP_CHARS],
            user_id=user_id,
            event_id=event_id,
            rejected_at=datetime.now(UTC),
        )


@dataclass(frozen=True, slots=True)
class Envelope:
    """What keying and event time need of an event that passed the first check."""

    user_id: str
    ts_ms: int
    type: str
    raw: str


def check_envelope(raw: str, max_future_ms: int | None = None, now_ms: int | None = None) -> Envelope | RejectedEvent:
    """Check `raw` enough to key and time it; the reason names the field that is wrong.

    `max_future_ms` rejects events stamped further than that ahead of the wall clock (`now_ms`),
    since their actions would carry timestamps a Kafka broker refuses.
    """
    try:
        data = json.loads(raw)
    except ValueError as exc:
        return RejectedEvent.of(raw, f"not valid JSON: {exc}")
    if not isinstance(data, dict):
        return RejectedEvent.of(raw, f"an event must be a JSON object, not {type(data).__name__}")
    user_id = data.get("user_id")
    event_id = data.get("event_id") if isinstance(data.get("event_id"), str) else None
    if not isinstance(user_id, str) or not user_id:
        return RejectedEvent.of(raw, "field 'user_id' is missing or not a non-empty string", event_id=event_id)
    for name in ("event_id", "type"):
        if not isinstance(data.get(name), str) or not data[name]:
            return RejectedEvent.of(raw, f"field '{name}' is missing or not a non-empty string", user_id, event_id)
    ts_text = data.get("ts")
    if not isinstance(ts_text, str):
        return RejectedEvent.of(raw, "field 'ts' is missing or not an ISO-8601 string", user_id, event_id)
    try:
        ts = datetime.fromisoformat(ts_text)
    except ValueError:
        return RejectedEvent.of(raw, f"field 'ts' is not an ISO-8601 time: {ts_text!r}", user_id, event_id)
    if ts.tzinfo is None:
        return RejectedEvent.of(raw, f"field 'ts' has no timezone (add Z or an offset): {ts_text!r}", user_id, event_id)
    ts_ms = to_ms(ts)
    if max_future_ms is not None:
        now = now_ms if now_ms is not None else to_ms(datetime.now(UTC))
        if ts_ms > now + max_future_ms:
            return RejectedEvent.of(
                raw, f"field 'ts' is {(ts_ms - now) // 1000}s in the future (clock skew?)", user_id, event_id
            )
    return Envelope(user_id, ts_ms, data["type"], raw)
