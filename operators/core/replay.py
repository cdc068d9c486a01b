"""Replay a batch of events through the interpreter in one process, the way the Flink job does.

Per user it keeps what the Flink adapter keeps — the encoded state and one timer — and moves
event time like a watermark that follows the events: before an event at `ts`, every timer due
before `ts` fires (any user, in due order); after the last event, timers keep firing up to
`until` (or until nothing is left). For input sorted by time this gives the same actions and
outcomes as `journeys simulate` on Flink; it is what scenario tests and `journeys test` use.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from jobs.spec.records import ActionRecord, Event, OutcomeRecord
from operators.core.effects import ProfileUpdate, Step
from operators.core.interpreter import Interpreter, to_ms
from state import codec

MAX_TIMER_FIRINGS = 10_000_000


class ReplayLimitExceeded(RuntimeError):
    """Timers kept firing past the limit: a journey loops forever and no `until` was given."""


@dataclass
class ReplayResult:
    """Everything a replay produced, in the order it was produced."""

    actions: list[ActionRecord] = field(default_factory=list)
    outcomes: list[OutcomeRecord] = field(default_factory=list)
    profile_updates: list[ProfileUpdate] = field(default_factory=list)
    erased: list[str] = field(default_factory=list)
    states: dict[str, bytes] = field(default_factory=dict)
    timers: dict[str, datetime] = field(default_factory=dict)


class Replay:
    """Incremental replay: feed events, advance time, read results."""

    def __init__(self, interp: Interpreter) -> None:
        self.interp = interp
        self.result = ReplayResult()
        self._heap: list[tuple[int, str]] = []
        self._firings = 0

    def _apply(self, user: str, step: Step) -> None:
        r = self.result
        if step.changed:
            if step.state is None:
                r.states.pop(user, None)
            else:
                r.states[user] = codec.encode(step.state)
        if step.wakeup is None:
            r.timers.pop(user, None)
        elif r.timers.get(user) != step.wakeup:
            r.timers[user] = step.wakeup
            heapq.heappush(self._heap, (to_ms(step.wakeup), user))
        r.actions.extend(step.actions)
        r.outcomes.extend(step.outcomes)
        r.profile_updates.extend(step.profile_updates)
        if step.erasure is not None:
            r.erased.append(step.erasure.user_id)

    def advance(self, before_ms: int | None, *, inclusive: bool = False) -> None:
        """Fire every timer due before `before_ms` (at or before, if `inclusive`; all if None)."""
        heap, timers = self._heap, self.result.timers
        while heap:
            due, user = heap[0]
            if before_ms is not None and (due > before_ms or (due == before_ms and not inclusive)):
                return
            heapq.heappop(heap)
            current = timers.get(user)
            if current is None or to_ms(current) != due:
                continue  # superseded by a later registration
            del timers[user]
            self._firings += 1
            if self._firings > MAX_TIMER_FIRINGS:
                raise ReplayLimitExceeded(
                    f"more than {MAX_TIMER_FIRINGS:,} timer firings: give an end time (until)"
                )
            stored = self.result.states.get(user)
            if stored is None:
                continue
            self._apply(user, self.interp.on_timer(codec.decode(stored), user, current))

    def event(self, event: Event) -> None:
        """Process one event (after the timers due before it)."""
        self.advance(to_ms(event.ts))
        stored = self.result.states.get(event.user_id)
        state = codec.decode(stored) if stored is not None else None
        self._apply(event.user_id, self.interp.on_event(state, event))


def replay(interp: Interpreter, events: Iterable[Event], until: datetime | None = None) -> ReplayResult:
    """Run `events` (in the order given) and then time up to `until` (None: until nothing is left)."""
    run = Replay(interp)
    for event in events:
        run.event(event)
    run.advance(to_ms(until) if until is not None else None, inclusive=True)
    return run.result
