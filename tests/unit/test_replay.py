"""The in-process replay moves time like the Flink job: timers before each event, then to `until`."""

from __future__ import annotations

from datetime import timedelta

import pytest
from interp_support import T0, at, ev, journey

from operators.core import Interpreter
from operators.core.replay import Replay, ReplayLimitExceeded, replay

pytestmark = pytest.mark.unit

WAIT_THEN_PUSH = """
    id: nudge
    name: Nudge
    entry: {event: signed_up}
    start: wait
    nodes:
      wait: {type: wait, duration: 1h, next: push}
      push: {type: message, channel: in_app, template: hello, next: done}
      done: {type: exit}
"""

WEEKLY_FOREVER = """
    id: weekly
    name: Weekly digest
    entry: {event: signed_up}
    start: digest
    nodes:
      digest: {type: message, channel: in_app, template: hello, next: week}
      week: {type: wait, duration: 1w, next: digest}
"""


def test_timers_fire_before_a_later_event_and_after_the_last_one() -> None:
    interp = Interpreter([journey(WAIT_THEN_PUSH)])
    result = replay(interp, [ev("signed_up", T0, user="a"), ev("signed_up", at(hours=2), user="b")])
    assert [(a.user_id, a.ts) for a in result.actions] == [("a", at(hours=1)), ("b", at(hours=3))]
    kinds = [(o.user_id, str(o.kind)) for o in result.outcomes]
    # a's wait ended (its action) before b entered, because b's event came after a's deadline.
    assert kinds.index(("a", "action")) < kinds.index(("b", "entered"))
    assert not result.timers or all(t > at(hours=3) for t in result.timers.values())


def test_until_stops_time() -> None:
    interp = Interpreter([journey(WAIT_THEN_PUSH)])
    result = replay(interp, [ev("signed_up", T0)], until=T0 + timedelta(minutes=59))
    assert result.actions == []
    assert result.timers["u1"] == at(hours=1)


def test_a_journey_that_loops_forever_needs_an_end(monkeypatch: pytest.MonkeyPatch) -> None:
    interp = Interpreter([journey(WEEKLY_FOREVER)])
    bounded = replay(interp, [ev("signed_up", T0)], until=T0 + timedelta(weeks=3))
    assert len(bounded.actions) == 4
    monkeypatch.setattr("operators.core.replay.MAX_TIMER_FIRINGS", 50)
    run = Replay(interp)
    run.event(ev("signed_up", T0, user="z"))
    with pytest.raises(ReplayLimitExceeded, match="until"):
        run.advance(None)
