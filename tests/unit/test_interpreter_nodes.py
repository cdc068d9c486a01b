"""Each node kind, entries and re-entry, goals and exits, versions, idempotency, plugins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

import pytest
from interp_support import FIXED_CLOCK, T0, Harness, at, ev, journey

from jobs.spec.nodes import ActionNode, NodeBase, register_node_kind, unregister_node_kind
from operators.core import ActionDraft, Guardrails, Interpreter, PluginRegistry, UnknownNodeKind
from state.record import Waiting

pytestmark = pytest.mark.unit

CART = """
id: cart
name: Cart
tz: America/New_York
entry:
  event: cart.updated
  where: {all: [{field: event.props.cart_value, op: gte, value: 20}]}
  reentry: {policy: after, cooldown: 7d}
goals: [{event: order.completed}]
exit_on: [{event: user.churned}]
start: wait_1h
nodes:
  wait_1h: {type: wait, duration: 1h, next: still}
  still:
    type: branch
    cases: [{when: {field: counters.order.completed.1h, op: eq, value: 0}, next: email_1, name: no_order}]
    default: done
  email_1: {type: message, channel: email, template: cart_reminder, next: opened}
  opened: {type: wait_for, event: message.opened, match: {node: email_1}, timeout: 1d,
           on_event: done, on_timeout: sms_1}
  sms_1: {type: message, channel: sms, template: cart_sms, next: done}
  done: {type: exit}
"""

ADA = {"email": "ada@example.com", "phone": "+15550100"}


def cart_harness(**kwargs: object) -> Harness:
    return Harness([journey(CART)], **kwargs)  # type: ignore[arg-type]


def test_entry_wait_branch_message_and_timeout_path() -> None:
    h = cart_harness()
    step = h.send(ev("cart.updated", props={"cart_value": 80}, traits=ADA))
    assert [(o.kind.value, o.node_id) for o in step.outcomes] == [("entered", "wait_1h"), ("node", "wait_1h")]
    assert step.wakeup == at(hours=1)
    h.advance(at(hours=1))
    assert h.sent() == [("email_1", "email", at(hours=1))]
    email = h.actions[0]
    assert email.action_id == "cart:1:u1:email_1:1"
    assert email.to == {"email": "ada@example.com"}
    assert email.vars == {"profile": ADA, "event": {"cart_value": 80}}
    assert email.trigger_event_id is None and email.emitted_at == FIXED_CLOCK
    assert email.not_after == at(hours=25)
    h.advance(at(hours=25))
    assert h.sent()[1] == ("sms_1", "sms", at(hours=25))
    assert h.kinds()[-4:] == [
        ("node", "sms_1", "message"),
        ("action", "sms_1", "sms"),
        ("node", "done", "exit"),
        ("exited", "done", "completed"),
    ]
    assert h.state().instances == [] and h.timers.get("u1") != at(hours=25)


def test_entry_filter_keeps_users_out() -> None:
    h = cart_harness()
    step = h.send(ev("cart.updated", props={"cart_value": 5}, traits=ADA))
    assert step.outcomes == [] and h.state().instances == []


def test_wait_for_matches_feedback_of_this_instance_node_only() -> None:
    h = cart_harness()
    h.send(ev("cart.updated", props={"cart_value": 80}, traits=ADA))
    h.advance(at(hours=1))
    aid = h.actions[0].action_id
    # Feedback about another instance (entry 2) or another node does not match.
    h.send(ev("message.opened", at(hours=2), props={"action_id": "cart:1:u1:email_1:2"}))
    h.send(ev("message.opened", at(hours=2), props={"action_id": "cart:1:u1:sms_1:1"}))
    assert h.state().instances[0].node == "opened"
    h.send(ev("message.opened", at(hours=3), props={"action_id": aid, "journey_id": "cart", "node_id": "email_1"}))
    assert ("branch", "opened", "on_event") in h.kinds()
    assert h.kinds()[-1] == ("exited", "done", "completed")
    assert len(h.actions) == 1


def test_wait_for_match_without_action_id_uses_journey_and_node() -> None:
    h = cart_harness()
    h.send(ev("cart.updated", props={"cart_value": 80}, traits=ADA))
    h.advance(at(hours=1))
    h.send(ev("message.opened", at(hours=2), props={"journey_id": "cart", "node_id": "email_1"}))
    assert h.state().instances == []


def test_wait_for_where_and_match_props() -> None:
    j = journey("""
        id: vip
        name: VIP
        entry: {event: signup}
        start: w
        nodes:
          w: {type: wait_for, event: order.completed, match: {currency: EUR},
              where: {field: event.props.total, op: gt, value: 100}, timeout: 2d, on_event: big, on_timeout: done}
          big: {type: feature_flag, flag: vip, next: done}
          done: {type: exit}
    """)
    h = Harness([j])
    h.send(ev("signup"))
    h.send(ev("order.completed", at(hours=1), props={"total": 500, "currency": "USD"}))
    h.send(ev("order.completed", at(hours=2), props={"total": 50, "currency": "EUR"}))
    assert h.actions == []
    h.send(ev("order.completed", at(hours=3), props={"total": 150, "currency": "EUR"}))
    assert h.sent() == [("big", "flag", at(hours=3))]
    assert h.actions[0].params == {"flag": "vip", "value": True}
    assert h.actions[0].trigger_event_id is not None


def test_wait_for_ignores_events_older_than_the_entry() -> None:
    j = journey("""
        id: j
        name: J
        entry: {event: signup}
        start: w
        nodes:
          w: {type: wait_for, event: login, timeout: 1d, on_event: done, on_timeout: done}
          done: {type: exit}
    """)
    h = Harness([j])
    h.send(ev("signup", at(hours=1)))
    h.send(ev("login", T0))  # late: before the user entered
    assert h.state().instances[0].waiting is Waiting.EVENT


def test_goal_converts_and_exits_mid_wait() -> None:
    h = cart_harness()
    h.send(ev("cart.updated", props={"cart_value": 80}, traits=ADA))
    h.send(ev("order.completed", at(minutes=10)))
    assert h.kinds()[-2:] == [("converted", "wait_1h", "order.completed"), ("exited", "wait_1h", "goal")]
    h.advance(at(days=3))
    assert h.actions == []


def test_goal_without_exit_only_converts() -> None:
    j = journey("""
        id: j
        name: J
        entry: {event: signup}
        goals:
          - {event: purchase, exit: false, name: first_purchase,
             where: {field: event.props.total, op: gte, value: 10}}
        start: w
        nodes:
          w: {type: wait, duration: 1d, next: done}
          done: {type: exit}
    """)
    h = Harness([j])
    h.send(ev("signup"))
    h.send(ev("purchase", at(hours=1), props={"total": 5}))
    h.send(ev("purchase", at(hours=2), props={"total": 50}))
    assert ("converted", "w", "first_purchase") in h.kinds()
    assert [k for k in h.kinds() if k[0] == "converted"] == [("converted", "w", "first_purchase")]
    assert len(h.state().instances) == 1


def test_exit_on_takes_effect_at_once() -> None:
    h = cart_harness()
    h.send(ev("cart.updated", props={"cart_value": 80}, traits=ADA))
    h.send(ev("user.churned", at(minutes=1)))
    assert h.kinds()[-1] == ("exited", "wait_1h", "exit_on")
    assert h.state().instances == []


def test_counters_include_the_current_event_and_count_outside_journeys() -> None:
    j = journey("""
        id: engaged
        name: Engaged
        entry: {event: page.viewed, where: {field: counters.page.viewed.1d, op: gte, value: 3}}
        start: f
        nodes:
          f: {type: feature_flag, flag: engaged, next: done}
          done: {type: exit}
    """)
    h = Harness([j])
    h.send(ev("page.viewed", at(hours=-30)))  # outside the 1d window by the third view
    h.send(ev("page.viewed", at(hours=1)))
    h.send(ev("page.viewed", at(hours=2)))
    assert h.actions == []
    h.send(ev("page.viewed", at(hours=3)))  # the third in 24 h, counting itself
    assert h.sent() == [("f", "flag", at(hours=3))]


def test_branch_counter_sees_events_during_the_wait() -> None:
    h = Harness([journey(CART.replace("goals: [{event: order.completed}]", "goals: []"))])
    h.send(ev("cart.updated", props={"cart_value": 80}, traits=ADA))
    h.send(ev("order.completed", at(minutes=10)))
    h.advance(at(hours=1))
    assert ("branch", "still", "default") in h.kinds()
    assert h.actions == []


def test_branch_over_event_profile_and_journey_fields() -> None:
    j = journey("""
        id: b
        name: B
        entry: {event: visit, reentry: {policy: always}}
        start: w
        nodes:
          w: {type: wait, duration: 1h, next: br}
          br:
            type: branch
            cases:
              - {when: {field: journey.entry, op: gte, value: 2}, next: again, name: again}
              - {when: {field: profile.plan, op: eq, value: pro}, next: pro, name: pro}
              - when: {all: [{field: event.props.page, op: contains, value: pricing},
                             {field: event.type, op: eq, value: visit}]}
                next: pricing
                name: pricing
            default: done
          again: {type: feature_flag, flag: again, next: done}
          pro: {type: feature_flag, flag: pro, next: done}
          pricing: {type: feature_flag, flag: pricing, next: done}
          done: {type: exit}
    """)
    h = Harness([j])
    h.send(ev("visit", props={"page": "/pricing"}))
    h.advance(at(hours=1))
    h.send(ev("visit", at(hours=2), user="u2", traits={"plan": "pro"}))
    h.advance(at(hours=3))
    h.send(ev("visit", at(hours=4), props={"page": "/pricing"}))
    h.advance(at(hours=5))
    assert [(a.user_id, a.params["flag"]) for a in h.actions] == [("u1", "pricing"), ("u2", "pro"), ("u1", "again")]


def test_split_is_deterministic_and_weighted() -> None:
    j = journey("""
        id: ab
        name: AB
        entry: {event: signup}
        start: s
        nodes:
          s: {type: split, variants: [{name: a, weight: 25, next: fa}, {name: b, weight: 75, next: fb}]}
          fa: {type: feature_flag, flag: a, next: done}
          fb: {type: feature_flag, flag: b, next: done}
          done: {type: exit}
    """)
    h1, h2 = Harness([j]), Harness([j])
    for i in range(2000):
        h1.send(ev("signup", user=f"user{i}"))
        h2.send(ev("signup", user=f"user{i}"))
    flags1 = [a.params["flag"] for a in h1.actions]
    assert flags1 == [a.params["flag"] for a in h2.actions]
    assert 400 < flags1.count("a") < 600
    assert h1.interp.journey("ab", 1).variant_of("user7", None) == flags1[7]


def test_update_profile_sets_unsets_increments_and_reports() -> None:
    j = journey("""
        id: up
        name: Up
        entry: {event: signup}
        start: u
        nodes:
          u: {type: update_profile, set: {nudged: true}, unset: [temp], increment: {score: 5}, next: br}
          br:
            type: branch
            cases: [{when: {field: profile.score, op: eq, value: 7}, next: done}]
            default: done
          done: {type: exit}
    """)
    h = Harness([j])
    step = h.send(ev("signup", traits={"temp": 1, "score": 2}))
    assert h.state().profile == {"nudged": True, "score": 7}
    (update,) = step.profile_updates
    assert update.set == {"nudged": True} and update.unset == ("temp",) and update.increment == {"score": 5}
    assert ("branch", "br", "case 1") in h.kinds()


def test_webhook_node_carries_its_request() -> None:
    j = journey("""
        id: wh
        name: WH
        entry: {event: signup}
        start: w
        nodes:
          w: {type: webhook, url: "https://crm.example/hook", headers: {X-Key: k}, body: {a: 1}, next: done}
          done: {type: exit}
    """)
    h = Harness([j])
    h.send(ev("signup"))
    (a,) = h.actions
    assert a.channel == "webhook" and a.to == {}
    assert a.params == {
        "method": "POST", "headers": {"X-Key": "k"}, "url": "https://crm.example/hook", "body": {"a": 1}
    }


def test_identify_traits_update_the_profile() -> None:
    h = cart_harness()
    h.send(ev("identify", traits={"email": "a@b.c", "plan": "pro"}))
    h.send(ev("identify", at(minutes=1), traits={"plan": None}))
    assert h.state().profile == {"email": "a@b.c"}


def test_repeated_event_id_changes_nothing() -> None:
    h = cart_harness()
    first = h.send(ev("cart.updated", props={"cart_value": 80}, traits=ADA, event_id="dup"))
    again = h.send(ev("cart.updated", at(minutes=5), props={"cart_value": 80}, traits=ADA, event_id="dup"))
    assert first.changed and not again.changed
    assert again.outcomes == [] and again.actions == []
    assert len(h.state().instances) == 1


def test_reentry_never_after_and_always() -> None:
    def make(policy: str) -> Harness:
        reentry = "{policy: after, cooldown: 2d}" if policy == "after" else f"{{policy: {policy}}}"
        return Harness([journey(f"""
            id: r
            name: R
            entry: {{event: go, reentry: {reentry}}}
            start: m
            nodes:
              m: {{type: message, channel: in_app, template: t, next: w}}
              w: {{type: wait, duration: 1d, next: done}}
              done: {{type: exit}}
        """)])

    never = make("never")
    for hours in (0, 1, 30, 100):
        never.send(ev("go", at(hours=hours)))
        never.advance(at(hours=hours))
    assert [a.action_id for a in never.actions] == ["r:1:u1:m:1"]

    after = make("after")
    for hours in (0, 10, 30, 50):  # 10: still inside; 30: ended but cooldown (2d) not passed; 50: ok
        after.advance(at(hours=hours))
        after.send(ev("go", at(hours=hours)))
    assert [a.action_id for a in after.actions] == ["r:1:u1:m:1", "r:1:u1:m:2"]

    always = make("always")
    always.send(ev("go"))
    always.send(ev("go", at(hours=1)))
    assert [a.action_id for a in always.actions] == ["r:1:u1:m:1", "r:1:u1:m:2"]
    assert [i.entry for i in always.state().instances] == [1, 2]


def test_users_keep_their_version_and_new_entries_take_the_active_one() -> None:
    v1 = journey("""
        id: v
        name: V
        version: 1
        entry: {event: go}
        start: w
        nodes:
          w: {type: wait, duration: 1d, next: m}
          m: {type: message, channel: in_app, template: old, next: done}
          done: {type: exit}
    """)
    new_m = v1.nodes["m"].model_copy(update={"template": "new"})
    v2 = v1.model_copy(update={"version": 2, "nodes": {**v1.nodes, "m": new_m}})
    h = Harness([v1])
    h.send(ev("go"))
    store = h.store
    h2 = Harness([v1, v2])
    h2.store = store
    h2.timers = dict(h.timers)
    h2.send(ev("go", user="u2"))
    h2.advance(at(days=2))
    assert sorted((a.user_id, a.version, a.template) for a in h2.actions) == [("u1", 1, "old"), ("u2", 2, "new")]


def test_removed_version_stops_its_instances() -> None:
    j = journey("""
        id: gone
        name: Gone
        entry: {event: go}
        start: w
        nodes:
          w: {type: wait, duration: 1d, next: done}
          done: {type: exit}
    """)
    h = Harness([j])
    h.send(ev("go"))
    h2 = Harness([])
    h2.store, h2.timers = h.store, dict(h.timers)
    h2.advance(at(days=1))
    assert h2.kinds() == [("exited", "w", "stopped")]


def test_segment_and_api_entries() -> None:
    seg = journey("""
        id: seg
        name: Seg
        entry: {segment: vip}
        start: f
        nodes:
          f: {type: feature_flag, flag: vip, next: done}
          done: {type: exit}
    """)
    api = journey("""
        id: api
        name: Api
        entry: {api: true}
        start: f
        nodes:
          f: {type: feature_flag, flag: api, next: done}
          done: {type: exit}
    """)
    h = Harness([seg, api])
    h.send(ev("segment.entered", props={"segment": "other"}))
    h.send(ev("segment.entered", props={"segment": "vip"}))
    h.send(ev("journey.triggered", props={"journey_id": "nope"}))
    h.send(ev("journey.triggered", props={"journey_id": "api"}))
    assert [a.params["flag"] for a in h.actions] == ["vip", "api"]


def test_schedule_entry_at_the_users_local_time() -> None:
    j = journey("""
        id: digest
        name: Digest
        entry:
          schedule: {at: "09:00", days: [mon], tz: user}
          where: {field: profile.plan, op: eq, value: pro}
          reentry: {policy: always}
        start: f
        nodes:
          f: {type: message, channel: in_app, template: digest, next: done}
          done: {type: exit}
    """)
    h = Harness([j])
    h.send(ev("identify", traits={"plan": "pro"}, tz="Europe/Paris"))  # Wednesday
    h.send(ev("identify", user="u2", traits={"plan": "free"}))
    h.advance(at(days=13))
    # Mondays 2026-01-19 and 2026-01-26 at 09:00 Paris = 08:00 UTC; u2 never qualifies.
    assert h.sent() == [("f", "in_app", datetime(2026, 1, 19, 8, tzinfo=UTC)),
                        ("f", "in_app", datetime(2026, 1, 26, 8, tzinfo=UTC))]
    assert [a.action_id for a in h.actions] == ["digest:1:u1:f:1", "digest:1:u1:f:2"]


def test_wait_until_uses_user_then_profile_then_journey_then_global_timezone() -> None:
    text = """
        id: wu
        name: WU
        {tz}
        entry: {{event: go}}
        start: w
        nodes:
          w: {{type: wait_until, at: "10:00", next: f}}
          f: {{type: feature_flag, flag: x, next: done}}
          done: {{type: exit}}
    """
    def fire(tz_line: str, guardrails: Guardrails | None = None, **event: object) -> datetime:
        h = Harness([journey(text.format(tz=tz_line))], guardrails)
        h.send(ev("go", T0, **event))  # type: ignore[arg-type]
        h.advance(at(days=3))
        return h.actions[0].ts

    assert fire("", tz="Asia/Tokyo") == datetime(2026, 1, 15, 1, tzinfo=UTC)  # 10:00 JST next day
    assert fire("", traits={"tz": "Europe/Paris"}) == datetime(2026, 1, 15, 9, tzinfo=UTC)
    assert fire("tz: America/New_York") == datetime(2026, 1, 14, 15, tzinfo=UTC)
    assert fire("", Guardrails(default_tz="Europe/Paris")) == datetime(2026, 1, 15, 9, tzinfo=UTC)
    assert fire("", Guardrails(default_tz="Europe/Paris"), tz="Not/AZone") == datetime(2026, 1, 15, 9, tzinfo=UTC)


def test_wait_until_on_weekdays_and_over_dst() -> None:
    j = journey("""
        id: wu
        name: WU
        entry: {event: go}
        start: w
        nodes:
          w: {type: wait_until, at: "10:00", days: [mon, tue, wed, thu, fri], tz: Europe/Paris, next: f}
          f: {type: feature_flag, flag: x, next: done}
          done: {type: exit}
    """)
    h = Harness([j])
    h.send(ev("go", datetime(2026, 3, 27, 10, tzinfo=UTC)))  # Friday 11:00 Paris: next is Monday
    h.advance(datetime(2026, 4, 10, tzinfo=UTC))
    assert h.actions[0].ts == datetime(2026, 3, 30, 8, tzinfo=UTC)  # 10:00 CEST after the change


def test_loops_give_each_visit_its_own_action_id() -> None:
    j = journey("""
        id: loop
        name: Loop
        entry: {event: go}
        start: m
        nodes:
          m: {type: message, channel: in_app, template: weekly, next: w}
          w: {type: wait, duration: 7d, next: m}
    """)
    h = Harness([j])
    h.send(ev("go"))
    h.advance(at(days=15))
    assert [a.action_id for a in h.actions] == ["loop:1:u1:m:1", "loop:1:u1:m#2:1", "loop:1:u1:m#3:1"]


def test_events_after_a_deadline_see_it_passed_whenever_the_timer_fires() -> None:
    def run(fire_first: bool) -> list[tuple[str, str | None, str | None]]:
        h = cart_harness()
        h.send(ev("cart.updated", props={"cart_value": 80}, traits=ADA, event_id="a"), fire_timers_first=fire_first)
        h.send(ev("order.completed", at(hours=2), event_id="b"), fire_timers_first=fire_first)
        h.advance(at(days=3))
        return h.kinds()

    early, caught_up = run(True), run(False)
    assert early == caught_up
    assert ("branch", "still", "no_order") in early and early[-1] == ("exited", "opened", "goal")


def test_several_journeys_at_once() -> None:
    other = journey("""
        id: other
        name: Other
        entry: {event: cart.updated}
        start: f
        nodes:
          f: {type: feature_flag, flag: x, next: w}
          w: {type: wait, duration: 2h, next: done}
          done: {type: exit}
    """)
    h = Harness([journey(CART), other])
    h.send(ev("cart.updated", props={"cart_value": 80}, traits=ADA))
    assert sorted(i.journey_id for i in h.state().instances) == ["cart", "other"]
    h.advance(at(hours=2))
    assert [i.journey_id for i in h.state().instances] == ["cart"]


def test_paused_journey_holds_users_until_resumed() -> None:
    h = cart_harness()
    h.send(ev("cart.updated", props={"cart_value": 80}, traits=ADA))
    paused = Harness([journey(CART)], paused={"cart"})
    paused.store, paused.timers = h.store, dict(h.timers)
    paused.send(ev("cart.updated", at(minutes=1), user="u2", props={"cart_value": 80}))
    paused.advance(at(hours=5))
    assert paused.actions == [] and paused.state("u2").instances == []
    assert paused.timers["u1"] > at(hours=5)  # re-checks later, without a timer storm
    resumed = Harness([journey(CART)])
    resumed.store, resumed.timers = paused.store, dict(paused.timers)
    resumed.advance(at(hours=6))
    assert resumed.sent() == [("email_1", "email", at(hours=5, minutes=15))]


def test_unknown_kinds_and_plugins() -> None:
    @register_node_kind
    class SlackPing(ActionNode):
        type: Literal["slack_ping"]
        text: str

    @register_node_kind
    class Weird(NodeBase):
        type: Literal["weird"]
        next: str

    class WhatsApp:
        def draft(self, node: NodeBase) -> ActionDraft:
            return ActionDraft(channel="whatsapp", template="wa", is_message=True, address_trait="phone")

    try:
        j = journey("""
            id: p
            name: P
            entry: {event: go}
            start: a
            nodes:
              a: {type: slack_ping, text: hi, next: b}
              b: {type: slack_ping, text: again, next: done}
              done: {type: exit}
        """)
        h = Harness([j])
        h.send(ev("go"))
        assert [(a.channel, a.params) for a in h.actions] == [
            ("slack_ping", {"text": "hi"}), ("slack_ping", {"text": "again"})
        ]
        h2 = Harness([j], plugins=PluginRegistry({"slack_ping": WhatsApp()}))
        h2.send(ev("go", traits={"phone": "+1"}))
        h2.send(ev("go", user="u2"))
        assert [(a.user_id, a.channel, a.to) for a in h2.actions] == [("u1", "whatsapp", {"phone": "+1"})] * 2
        assert ("b", "no_address") in h2.suppressed()
        weird = journey("""
            id: w
            name: W
            entry: {event: go}
            start: a
            nodes:
              a: {type: weird, next: done}
              done: {type: exit}
        """)
        with pytest.raises(UnknownNodeKind, match="node a: no handler for node kind 'weird'"):
            Interpreter([weird])
    finally:
        unregister_node_kind("slack_ping")
        unregister_node_kind("weird")


def test_errors_in_a_journey_become_error_outcomes_when_not_strict() -> None:
    class Broken:
        def draft(self, node: NodeBase) -> ActionDraft:
            return ActionDraft(channel="x", params={"bad": object()})

    @register_node_kind
    class Boom(ActionNode):
        type: Literal["boom"]

    try:
        j = journey("""
            id: e
            name: E
            entry: {event: go}
            start: a
            nodes:
              a: {type: boom, next: done}
              done: {type: exit}
        """)
        h = Harness([j], strict=False, plugins=PluginRegistry({"boom": Broken()}))
        h.interp._emit = _raise  # type: ignore[method-assign]
        h.send(ev("go"))
        assert [k[0] for k in h.kinds()] == ["entered", "node", "error", "exited"]
        assert h.kinds()[-1] == ("exited", "a", "error")
        assert h.state().instances == []
    finally:
        unregister_node_kind("boom")


def _raise(*args: object, **kwargs: object) -> None:
    raise RuntimeError("provider exploded")


def test_relevant_event_types_cover_what_the_journeys_read() -> None:
    interp = Interpreter([journey(CART)])
    assert {"cart.updated", "order.completed", "user.churned", "message.opened"} <= interp.relevant_event_types
    assert "page.viewed" not in interp.relevant_event_types


def test_wakeup_is_the_earliest_deadline() -> None:
    faster = CART.replace("id: cart", "id: cart2").replace("duration: 1h", "duration: 30m")
    h = Harness([journey(CART), journey(faster)])
    step = h.send(ev("cart.updated", props={"cart_value": 80}, traits=ADA))
    assert step.wakeup == at(minutes=30)
    assert h.interp.next_wakeup(h.state()) == at(minutes=30)
    assert timedelta(0) < step.wakeup - T0
