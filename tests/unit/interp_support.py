"""Test support for the interpreter: journeys from YAML, events, and a tiny Flink stand-in.

`Harness` keeps what the Flink adapter keeps per user — the encoded state and one timer — and
runs every step through the real codec, so tests exercise decode/encode exactly as the job does.
"""

from __future__ import annotations

import itertools
import textwrap
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from jobs.spec.journey import Journey
from jobs.spec.loader import journey_from_yaml
from jobs.spec.records import ActionRecord, Event, OutcomeRecord
from operators.core import Guardrails, Interpreter, Step
from state import codec
from state.record import UserState

T0 = datetime(2026, 1, 14, 12, 0, tzinfo=UTC)  # a Wednesday, noon UTC
FIXED_CLOCK = datetime(2030, 1, 1, tzinfo=UTC)
_ids = itertools.count(1)


def journey(text: str) -> Journey:
    """A journey from (indented) YAML text, through the project's loader."""
    return journey_from_yaml(textwrap.dedent(text))


def at(**delta: float) -> datetime:
    """T0 plus a timedelta given as keyword arguments."""
    return T0 + timedelta(**delta)


def ev(
    type: str,
    when: datetime = T0,
    user: str = "u1",
    props: dict[str, Any] | None = None,
    traits: dict[str, Any] | None = None,
    tz: str | None = None,
    event_id: str | None = None,
) -> Event:
    """An event with a fresh id unless one is given."""
    return Event(
        event_id=event_id or f"e{next(_ids)}",
        type=type,
        user_id=user,
        ts=when,
        props=props or {},
        context={"tz": tz} if tz else {},
        traits=traits or {},
    )


class Harness:
    """Runs an interpreter the way the Flink adapter does: encoded state and one timer per user."""

    def __init__(
        self,
        journeys: Iterable[Journey] = (),
        guardrails: Guardrails | None = None,
        *,
        interp: Interpreter | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("strict", True)
        kwargs.setdefault("clock", lambda: FIXED_CLOCK)
        self.interp = interp or Interpreter(list(journeys), guardrails, **kwargs)
        self.store: dict[str, bytes] = {}
        self.timers: dict[str, datetime] = {}
        self.actions: list[ActionRecord] = []
        self.outcomes: list[OutcomeRecord] = []
        self.steps: list[Step] = []

    def _apply(self, user: str, step: Step) -> Step:
        if step.changed:
            if step.state is None:
                self.store.pop(user, None)
            else:
                self.store[user] = codec.encode(step.state)
        if step.wakeup is not None:
            self.timers[user] = step.wakeup
        else:
            self.timers.pop(user, None)
        self.actions += step.actions
        self.outcomes += step.outcomes
        self.steps.append(step)
        return step

    def send(self, event: Event, *, fire_timers_first: bool = False) -> Step:
        """Process an event; optionally fire every timer due before it first (watermark ahead)."""
        if fire_timers_first:
            self.advance(event.ts - timedelta(milliseconds=1))
        raw = self.store.get(event.user_id)
        return self._apply(event.user_id, self.interp.on_event(codec.decode(raw) if raw else None, event))

    def advance(self, until: datetime) -> None:
        """Fire timers in time order up to and including `until` (the watermark passing it)."""
        while True:
            due = [(t, u) for u, t in self.timers.items() if t <= until]
            if not due:
                return
            when, user = min(due)
            raw = self.store.get(user)
            self._apply(user, self.interp.on_timer(codec.decode(raw) if raw else None, user, when))

    def state(self, user: str = "u1") -> UserState:
        """The user's decoded state (empty if none)."""
        return codec.decode(self.store.get(user))

    def kinds(self, user: str | None = None) -> list[tuple[str, str | None, str | None]]:
        """(kind, node, detail) of every outcome so far, optionally for one user."""
        return [(o.kind.value, o.node_id, o.detail) for o in self.outcomes if user is None or o.user_id == user]

    def sent(self, user: str | None = None) -> list[tuple[str, str, datetime]]:
        """(node, channel, ts) of every action so far."""
        return [(a.node_id, a.channel, a.ts) for a in self.actions if user is None or a.user_id == user]

    def suppressed(self) -> list[tuple[str | None, str | None]]:
        """(node, reason) of every suppressed outcome."""
        return [(o.node_id, o.detail) for o in self.outcomes if o.kind.value == "suppressed"]
