"""Property-based tests (hypothesis) of the interpreter's invariants over random event streams.

A fixed set of journeys that use every guardrail runs against random streams of events for a few
users (entries, goals, exits, consent changes, suppression, feedback on earlier actions, repeats,
erasure, address changes), with timers fired the way Flink fires them. Invariants:

* never more sends in any window than the caps allow (global and per journey);
* never a send to an opted-out, globally suppressed or erased user;
* never two actions with one action_id;
* the same input always gives the same output, whether timers fire before an event or the
  event catches them up;
* every user who entered is waiting on something (a deadline the timer covers) or has exited.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from interp_support import T0, Harness, ev, journey

from jobs.spec.journey import Cap
from jobs.spec.records import ActionRecord, Event
from operators.core import ConsentRule, Guardrails, Interpreter
from state.record import Waiting

pytestmark = pytest.mark.unit

PROMO = journey("""
    id: promo
    name: Promo
    entry: {event: go, reentry: {policy: always}}
    goals: [{event: buy}]
    exit_on: [{event: churn}]
    caps: [{channel: any, max: 2, per: 1d}, {channel: email, max: 1, per: 12h}]
    quiet_hours: {from: "21:00", to: "08:00", tz: user, mode: defer}
    start: msg
    nodes:
      msg: {type: message, channel: email, template: promo, fallback: {channel: sms, template: promo_sms},
            fallback_window: 2h, next: pause}
      pause: {type: wait, duration: 1h, next: opened}
      opened: {type: wait_for, event: message.opened, match: {node: msg}, timeout: 3h, on_event: thanks, on_timeout: ab}
      thanks: {type: message, channel: push, template: thanks, next: done}
      ab: {type: split, variants: [{name: sms, weight: 1, next: sms}, {name: app, weight: 1, next: app}]}
      sms: {type: message, channel: sms, template: nudge, next: done}
      app: {type: message, channel: in_app, template: nudge, next: done}
      done: {type: exit}
""")
TX = journey("""
    id: tx
    name: Receipts
    entry: {event: go, reentry: {policy: after, cooldown: 1h}}
    quiet_hours: {from: "22:00", to: "07:00", tz: UTC, mode: skip}
    start: receipt
    nodes:
      receipt: {type: message, channel: email, template: receipt, priority: transactional, next: later}
      later: {type: wait, duration: 30m, next: upsell}
      upsell: {type: message, channel: sms, template: upsell, next: done}
      done: {type: exit}
""")
LOOP = journey("""
    id: loop
    name: Weekly
    entry: {event: signup, reentry: {policy: never}}
    holdout: {percent: 30}
    start: msg
    nodes:
      msg: {type: message, channel: in_app, template: weekly, next: wait}
      wait: {type: wait, duration: 1d, next: check}
      check:
        type: branch
        cases: [{when: {field: counters.go.1d, op: gte, value: 2}, next: hot}]
        default: msg
      hot: {type: message, channel: email, template: hot, next: wait}
""")
GUARDRAILS = Guardrails(
    caps=[Cap(channel="any", max=3, per=timedelta(days=1)), Cap(channel="sms", max=1, per=timedelta(hours=6))],
    consent=[ConsentRule(channel="push", require_opt_in=True)],
    default_tz="Europe/Paris",
)
INTERP = Interpreter([PROMO, TX, LOOP], GUARDRAILS, strict=True, clock=lambda: T0)
CAPS = {
    None: [(None, 3, timedelta(days=1)), ("sms", 1, timedelta(hours=6))],
    "promo": [(None, 2, timedelta(days=1)), ("email", 1, timedelta(hours=12))],
}
CHANNELS = ("email", "sms", "push", "in_app")
FEEDBACK_TARGETS = (("promo", "msg"), ("promo", "msg"), ("promo", "sms"), ("tx", "receipt"), ("loop", "msg"))
USERS = ("u0", "u1", "u2")

kinds = st.sampled_from([
    "go", "go", "go", "signup", "buy", "churn", "opt_out", "opt_in", "unsubscribe", "suppress", "unsuppress",
    "identify", "forget_email", "opened", "bounced", "failed", "delete", "repeat",
])
steps = st.tuples(st.integers(0, 600), st.sampled_from(USERS), kinds, st.integers(0, 50))
streams = st.lists(steps, min_size=1, max_size=25)


@dataclass
class Consent:
    """A reference model of what a user allowed, updated in processing order."""

    opted_out: dict[tuple[str, str], bool] = field(default_factory=dict)
    suppressed: bool = False
    erased: bool = False

    def allows(self, a: ActionRecord) -> bool:
        if self.erased or self.suppressed:
            return False
        status = self.opted_out.get((a.channel, a.category))
        if status is None:
            return a.channel != "push"  # push requires opt-in
        return not status


def build(kind: str, when: datetime, user: str, pick: int, history: list[Event]) -> Event:
    channel = CHANNELS[pick % len(CHANNELS)]
    if kind in ("opened", "bounced", "failed"):
        # Feedback names an action id of this user's likely actions (it may not exist): chosen from
        # the input alone, so every way of firing timers sees the same event.
        journey_id, node = FEEDBACK_TARGETS[pick % len(FEEDBACK_TARGETS)]
        action_id = f"{journey_id}:1:{user}:{node}:{1 + (pick // len(FEEDBACK_TARGETS)) % 3}"
        return ev(f"message.{kind}", when, user, props={"action_id": action_id})
    if kind == "repeat" and history:
        old = history[pick % len(history)]
        return old.model_copy(update={"ts": when})  # same event_id, later arrival
    if kind in ("opt_out", "opt_in"):
        status = "opted_out" if kind == "opt_out" else "opted_in"
        return ev("consent.updated", when, user, props={"channel": channel, "status": status})
    if kind == "unsubscribe":
        return ev("message.unsubscribed", when, user, props={"channel": channel})
    if kind in ("suppress", "unsuppress"):
        return ev("suppression.updated", when, user, props={"status": f"{kind}ed"})
    if kind == "identify":
        tz = ("Europe/Paris", "America/New_York", "Asia/Tokyo", None)[pick % 4]
        return ev("identify", when, user, traits={"email": f"{user}@x.io", "phone": "+1555", "push_token": "t"}, tz=tz)
    if kind == "forget_email":
        return ev("identify", when, user, traits={"email": None})
    if kind == "delete":
        return ev("user.deleted", when, user)
    traits = {"email": f"{user}@x.io", "phone": "+1555", "push_token": "t"} if pick % 2 == 0 else {}
    return ev(kind if kind != "repeat" else "go", when, user, props={"n": pick}, traits=traits)


@dataclass
class Run:
    harness: Harness
    events: list[Event]
    violations: list[str]


def run(stream: list[tuple[int, str, str, int]], *, fire_timers_first: bool = False, check: bool = True) -> Run:
    h = Harness(interp=INTERP)
    models = {u: Consent() for u in USERS}
    history: list[Event] = []
    violations: list[str] = []
    now = T0
    seen_ids: set[str] = set()
    # What each user remembers of event ids: (id, ts seconds) of the last 32 accepted, one day.
    remembered: dict[str, list[tuple[str, int]]] = {u: [] for u in USERS}

    def inspect(step_actions: list[ActionRecord], models: dict[str, Consent]) -> None:
        for a in step_actions:
            if a.action_id in seen_ids:
                violations.append(f"duplicate action_id {a.action_id}")
            seen_ids.add(a.action_id)
            if a.params or a.channel in ("webhook", "flag"):
                continue
            if not models[a.user_id].allows(a):
                violations.append(f"send to a user who did not allow it: {a.action_id} {a.channel}")

    for gap, user, kind, pick in stream:
        now = now + timedelta(minutes=gap)
        event = build(kind, now, user, pick, history)
        if kind != "repeat" or not history:
            event = event.model_copy(update={"event_id": f"s{len(history)}"})
        user = event.user_id  # a repeat is some earlier event, maybe another user's
        if fire_timers_first:
            before = len(h.actions)
            h.advance(now - timedelta(milliseconds=1))
            inspect(h.actions[before:], models)
        ts_s = int(event.ts.timestamp())
        memory = remembered[user]
        duplicate = any(i == event.event_id and t > ts_s - 86_400 for i, t in memory)
        if not duplicate:
            memory.append((event.event_id, ts_s))
            del memory[:-32]
        step = h.send(event)
        # Deadlines at or before the event (ties included: a deadline at the event's own time goes
        # first, as its timer would) were decided before it: judge them by the old model.
        caught_up = [a for a in step.actions if a.trigger_event_id != event.event_id]
        inspect(caught_up, models)
        model = models[user]
        if not duplicate and not model.erased:
            apply_to_model(model, event)
        inspect([a for a in step.actions if a.trigger_event_id == event.event_id], models)
        history.append(event)
    before = len(h.actions)
    h.advance(now + timedelta(days=3))
    inspect(h.actions[before:], models)
    return Run(h, history, violations)


def apply_to_model(model: Consent, event: Event) -> None:
    p = event.props
    if event.type == "consent.updated":
        opted_out = p["status"] == "opted_out"
        for category in ("marketing", "transactional"):
            model.opted_out[(p["channel"], category)] = opted_out
    elif event.type == "message.unsubscribed":
        model.opted_out[(p["channel"], "marketing")] = True
    elif event.type == "suppression.updated":
        model.suppressed = p["status"] == "suppressed"
    elif event.type == "user.deleted":
        model.erased = True


def sends_per_window_ok(actions: list[ActionRecord]) -> list[str]:
    problems = []
    counted = [a for a in actions if a.priority.value == "marketing" and not a.params and a.channel != "flag"]
    for user in USERS:
        for scope, rules in CAPS.items():
            mine = [a for a in counted if a.user_id == user and (scope is None or a.journey_id == scope)]
            for channel, limit, per in rules:
                times = sorted(a.ts for a in mine if channel is None or a.channel == channel)
                for i, start in enumerate(times):
                    n = sum(1 for t in times[i:] if t - start < per)
                    if n > limit:
                        problems.append(f"{user}: {n} sends ({scope}, {channel}) within {per} from {start}")
    return problems


@settings(max_examples=500, deadline=None)
@given(streams)
def test_never_more_sends_in_any_window_than_the_caps_allow(stream: list[tuple[int, str, str, int]]) -> None:
    r = run(stream)
    assert sends_per_window_ok(r.harness.actions) == []


@settings(max_examples=500, deadline=None)
@given(streams)
def test_never_a_send_to_an_opted_out_suppressed_or_erased_user(stream: list[tuple[int, str, str, int]]) -> None:
    r = run(stream)
    assert [v for v in r.violations if "did not allow" in v] == []


@settings(max_examples=500, deadline=None)
@given(streams)
def test_never_two_actions_with_one_action_id(stream: list[tuple[int, str, str, int]]) -> None:
    r = run(stream)
    ids = [a.action_id for a in r.harness.actions]
    assert len(ids) == len(set(ids))


@settings(max_examples=500, deadline=None)
@given(streams)
def test_same_input_same_output_whenever_timers_fire(stream: list[tuple[int, str, str, int]]) -> None:
    a, b, c = run(stream), run(stream), run(stream, fire_timers_first=True)
    # Twice the same run: the very same records, in the same order, and the same stored bytes.
    assert [x.to_json() for x in a.harness.actions] == [x.to_json() for x in b.harness.actions]
    assert [x.to_json() for x in a.harness.outcomes] == [x.to_json() for x in b.harness.outcomes]
    assert a.harness.store == b.harness.store
    # Timers fired ahead of each event instead of caught up by it: each user's records in the
    # same order (users interleave differently, which is fine: Flink orders per key only).
    for user in USERS:
        assert [x.to_json() for x in a.harness.actions if x.user_id == user] == [
            x.to_json() for x in c.harness.actions if x.user_id == user
        ]
        assert [x.to_json() for x in a.harness.outcomes if x.user_id == user] == [
            x.to_json() for x in c.harness.outcomes if x.user_id == user
        ]
    assert a.harness.store == c.harness.store


@settings(max_examples=500, deadline=None)
@given(streams)
def test_every_user_who_entered_is_waiting_or_has_exited(stream: list[tuple[int, str, str, int]]) -> None:
    r = run(stream)
    h = r.harness
    entered = {(o.user_id, o.journey_id, o.entry) for o in h.outcomes if o.kind.value == "entered"}
    exited = {(o.user_id, o.journey_id, o.entry) for o in h.outcomes if o.kind.value == "exited"}
    assert exited <= entered
    for user in USERS:
        state = h.state(user)
        live = {(user, i.journey_id, i.entry) for i in state.instances}
        assert not live & exited
        for inst in state.instances:
            assert inst.waiting in (Waiting.TIMER, Waiting.EVENT, Waiting.DEFERRED)
            assert h.timers[user] <= datetime.fromtimestamp(inst.deadline / 1000, tz=T0.tzinfo)
        # Three days after the last event only the weekly loop can still hold anyone.
        assert all(i.journey_id == "loop" for i in state.instances)
        mine = {k for k in entered if k[0] == user}
        assert mine == (mine & exited) | live
