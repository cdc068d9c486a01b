"""An event at exactly a deadline's time gives one outcome, whether or not the timer fired first.

In Flink a timer due at `T` fires when the watermark reaches `T`; an event with time `T` may be
processed before that (in order) or after it (a late event within the allowed lateness, or a
replay after recovery). Producers stamp whole seconds and journeys wait whole hours or days, so
such ties are not rare; if the order decided the path, a replay could send a different message
under a different action id.
"""

from __future__ import annotations

import pytest
from interp_support import T0, Harness, at, ev, journey

pytestmark = pytest.mark.unit

WAIT_FOR = journey("""
    id: tie
    name: Tie between a wait_for timeout and its event
    entry: {event: go}
    start: answer
    nodes:
      answer: {type: wait_for, event: reply, timeout: 1h, on_event: thanks, on_timeout: nudge}
      thanks: {type: message, channel: in_app, template: thanks, next: done}
      nudge: {type: message, channel: in_app, template: nudge, next: done}
      done: {type: exit}
""")

REENTRY = journey("""
    id: again
    name: Re-entry exactly when the last instance ends
    entry: {event: go, reentry: {policy: after, cooldown: 1h}}
    start: rest
    nodes:
      rest: {type: wait, duration: 2h, next: hello}
      hello: {type: message, channel: in_app, template: hello, next: done}
      done: {type: exit}
""")


def _run(j: object, timer_first: bool, tie_event: object) -> Harness:
    h = Harness([j])
    h.send(ev("go", T0, event_id="go-1"))
    if timer_first:
        h.advance(tie_event.ts)  # the watermark passed the deadline before the event came in
    h.send(tie_event)
    h.advance(at(hours=10))
    return h


@pytest.mark.parametrize("timer_first", [False, True])
def test_a_wait_for_timeout_and_its_event_at_the_same_instant_resolve_the_same_way(timer_first: bool) -> None:
    h = _run(WAIT_FOR, timer_first, ev("reply", at(hours=1), event_id="reply-1"))
    assert [(a.action_id, a.ts) for a in h.actions] == [("tie:1:u1:nudge:1", at(hours=1))]
    assert ("branch", "answer", "on_timeout") in h.kinds()


@pytest.mark.parametrize("timer_first", [False, True])
def test_a_trigger_at_the_instant_the_last_instance_ends_re_enters_either_way(timer_first: bool) -> None:
    h = _run(REENTRY, timer_first, ev("go", at(hours=2), event_id="go-2"))
    assert [(a.action_id, a.ts) for a in h.actions] == [
        ("again:1:u1:hello:1", at(hours=2)),
        ("again:1:u1:hello:2", at(hours=4)),
    ]
