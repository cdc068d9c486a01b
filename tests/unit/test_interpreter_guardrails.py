"""Guardrails: caps, quiet hours, consent, suppression, addresses, fallback, holdout, erase, TTL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from interp_support import T0, Harness, at, ev, journey

from jobs.spec.journey import Cap
from operators.core import ConsentRule, Guardrails
from state.record import SEND_JOURNEY

pytestmark = pytest.mark.unit

ADA = {"email": "ada@example.com", "phone": "+15550100", "push_token": "tok"}


def message_journey(
    jid: str = "m",
    channel: str = "email",
    extra: str = "",
    node_extra: str = "",
    reentry: str = "always",
) -> str:
    return f"""
        id: {jid}
        name: M
        entry: {{event: go, reentry: {{policy: {reentry}}}}}
        {extra}
        start: msg
        nodes:
          msg: {{type: message, channel: {channel}, template: t {node_extra}, next: done}}
          done: {{type: exit}}
    """


def test_journey_cap_over_a_rolling_window() -> None:
    h = Harness([journey(message_journey(extra="caps: [{channel: any, max: 2, per: 1d}]"))])
    for hours in (0, 1, 2, 23, 25, 26):
        h.send(ev("go", at(hours=hours), traits=ADA))
    # Sends at 0 and 1; 2 and 23 are capped (two in the last 24 h); at 25 the 1 h send is exactly
    # 24 h old, out of the window; 26 sees only the 25 h send.
    assert [a.ts for a in h.actions] == [at(hours=0), at(hours=1), at(hours=25), at(hours=26)]
    assert [r for _, r in h.suppressed()] == ["cap", "cap"]


def test_global_caps_count_every_journey_and_channel_caps_only_their_channel() -> None:
    g = Guardrails(caps=[Cap(channel="email", max=1, per=timedelta(hours=12))])
    h = Harness([journey(message_journey("a")), journey(message_journey("b")),
                 journey(message_journey("c", channel="sms"))], g)
    h.send(ev("go", traits=ADA))
    assert sorted((a.journey_id, a.channel) for a in h.actions) == [("a", "email"), ("c", "sms")]
    assert h.suppressed() == [("msg", "cap")]


def test_transactional_bypasses_caps_and_quiet_hours_and_does_not_count() -> None:
    g = Guardrails(caps=[Cap(channel="any", max=1, per=timedelta(days=1))])
    quiet = 'quiet_hours: {from: "00:00", to: "23:59", tz: UTC, mode: skip}'
    tx = journey(message_journey("tx", extra=quiet, node_extra=", priority: transactional"))
    mk = journey(message_journey("mk"))
    h = Harness([tx, mk], g)
    h.send(ev("go", traits=ADA))
    h.send(ev("go", at(hours=1), traits=ADA))
    assert [(a.journey_id, a.priority.value) for a in h.actions] == [
        ("mk", "marketing"), ("tx", "transactional"), ("tx", "transactional")]
    assert [s[SEND_JOURNEY] for s in h.state().sends] == ["mk"]


def test_quiet_hours_defer_until_the_window_ends_in_the_users_timezone() -> None:
    q = 'quiet_hours: {from: "21:00", to: "08:00", tz: user, mode: defer}'
    h = Harness([journey(message_journey(extra=q))])
    # 22:30 in Paris (21:30 UTC): held until 08:00 Paris = 07:00 UTC.
    step = h.send(ev("go", datetime(2026, 1, 14, 21, 30, tzinfo=UTC), traits=ADA, tz="Europe/Paris"))
    assert step.actions == [] and step.wakeup == datetime(2026, 1, 15, 7, tzinfo=UTC)
    assert step.outcomes[-1].detail == "deferred:quiet_hours until 2026-01-15T07:00:00+00:00"
    h.advance(datetime(2026, 1, 15, 12, tzinfo=UTC))
    assert h.sent() == [("msg", "email", datetime(2026, 1, 15, 7, tzinfo=UTC))]
    assert h.state().instances == []


def test_quiet_hours_skip_suppresses_and_moves_on() -> None:
    q = 'quiet_hours: {from: "21:00", to: "08:00", tz: Europe/Paris, mode: skip}'
    h = Harness([journey(message_journey(extra=q))])
    h.send(ev("go", datetime(2026, 1, 14, 23, tzinfo=UTC), traits=ADA))
    assert h.actions == [] and h.suppressed() == [("msg", "quiet_hours")]
    assert h.kinds()[-1] == ("exited", "done", "completed")


def test_default_quiet_hours_from_guardrails() -> None:
    g = Guardrails.model_validate({"quiet_hours": {"from": "22:00", "to": "07:00", "tz": "UTC", "mode": "skip"}})
    h = Harness([journey(message_journey())], g)
    h.send(ev("go", datetime(2026, 1, 14, 23, tzinfo=UTC), traits=ADA))
    assert h.suppressed() == [("msg", "quiet_hours")]


def test_consent_opt_out_by_channel_and_category() -> None:
    h = Harness([journey(message_journey(node_extra=", category: promos"))])
    h.send(ev("consent.updated", props={"channel": "email", "category": "promos", "status": "opted_out"}, traits=ADA))
    h.send(ev("go", at(minutes=1)))
    h.send(ev("consent.updated", at(minutes=2), props={"channel": "email", "status": "opted_in"}))
    h.send(ev("go", at(minutes=3)))
    assert h.suppressed() == [("msg", "consent")]
    assert [a.ts for a in h.actions] == [at(minutes=3)]


def test_opt_in_required_by_policy() -> None:
    g = Guardrails(consent=[ConsentRule(channel="sms", require_opt_in=True)])
    h = Harness([journey(message_journey(channel="sms"))], g)
    h.send(ev("go", traits=ADA))
    opt_in = {"channel": "sms", "category": "marketing", "status": "opted_in"}
    h.send(ev("consent.updated", at(minutes=1), props=opt_in))
    h.send(ev("go", at(minutes=2)))
    assert h.suppressed() == [("msg", "consent")]
    assert len(h.actions) == 1


def test_transactional_never_bypasses_consent() -> None:
    h = Harness([journey(message_journey(node_extra=", priority: transactional"))])
    h.send(ev("consent.updated", props={"channel": "email", "status": "opted_out"}, traits=ADA))
    h.send(ev("go", at(minutes=1)))
    assert h.actions == [] and h.suppressed() == [("msg", "consent")]


def test_unsubscribe_feedback_opts_out() -> None:
    h = Harness([journey(message_journey())])
    h.send(ev("go", traits=ADA))
    h.send(ev("message.unsubscribed", at(minutes=1), props={"channel": "email", "action_id": h.actions[0].action_id}))
    h.send(ev("go", at(minutes=2)))
    assert len(h.actions) == 1 and h.suppressed() == [("msg", "consent")]


def test_global_suppression_list() -> None:
    h = Harness([journey(message_journey(node_extra=", priority: transactional"))])
    h.send(ev("suppression.updated", props={"status": "suppressed"}, traits=ADA))
    h.send(ev("go", at(minutes=1)))
    h.send(ev("suppression.updated", at(minutes=2), props={"status": "unsuppressed"}))
    h.send(ev("go", at(minutes=3)))
    assert h.suppressed() == [("msg", "suppression_list")]
    assert len(h.actions) == 1


def test_addresses_come_from_traits_and_some_channels_need_none() -> None:
    h = Harness([journey(message_journey("e", "email")), journey(message_journey("s", "sms")),
                 journey(message_journey("p", "push")), journey(message_journey("i", "in_app")),
                 journey(message_journey("k", "slack"))])
    h.send(ev("go", traits={"email": "a@b.c"}))
    assert sorted(a.channel for a in h.actions) == ["email", "in_app", "slack"]
    assert sorted(r for _, r in h.suppressed()) == ["no_address", "no_address"]
    assert {a.channel: a.to for a in h.actions}["email"] == {"email": "a@b.c"}


def test_fallback_at_once_without_address_or_consent() -> None:
    fb = ", fallback: {channel: sms, template: t_sms}"
    h = Harness([journey(message_journey(node_extra=fb))])
    h.send(ev("go", traits={"phone": "+1"}))
    assert h.suppressed() == [("msg", "no_address")]
    assert [(a.channel, a.template, a.action_id) for a in h.actions] == [("sms", "t_sms", "m:1:u1:msg~fb:1")]
    opt_out = {"channel": "email", "status": "opted_out"}
    h.send(ev("consent.updated", at(minutes=1), props=opt_out, traits={"email": "a@b.c"}))
    h.send(ev("go", at(minutes=2)))
    assert h.suppressed()[-1] == ("msg", "consent") and h.actions[-1].channel == "sms"


def test_fallback_on_bounce_within_the_window_even_after_exit() -> None:
    fb = ", fallback: {channel: sms, template: t_sms}, fallback_window: 2h"
    h = Harness([journey(message_journey(node_extra=fb, reentry="never"))])
    h.send(ev("go", traits=ADA))
    (email,) = h.actions
    assert email.fallback == "sms" and h.state().instances == []
    h.send(ev("message.bounced", at(hours=1), props={"action_id": "m:1:u1:msg:9"}))  # another action
    h.send(ev("message.bounced", at(hours=1), props={"action_id": email.action_id}))
    h.send(ev("message.failed", at(hours=1, minutes=1), props={"action_id": email.action_id}))  # only once
    assert [(a.channel, a.action_id, a.ts) for a in h.actions[1:]] == [("sms", "m:1:u1:msg~fb:1", at(hours=1))]
    assert h.state().fallbacks == []


def test_no_fallback_after_the_window() -> None:
    fb = ", fallback: {channel: sms, template: t_sms}"
    h = Harness([journey(message_journey(node_extra=fb))], Guardrails(fallback_window=timedelta(hours=1)))
    h.send(ev("go", traits=ADA))
    h.send(ev("message.failed", at(hours=2), props={"action_id": h.actions[0].action_id}))
    assert len(h.actions) == 1 and h.state().fallbacks == []


def test_fallback_respects_consent_and_quiet_hours() -> None:
    fb = ", fallback: {channel: sms, template: t_sms}"
    q = 'quiet_hours: {from: "21:00", to: "08:00", tz: UTC, mode: defer}'
    h = Harness([journey(message_journey(node_extra=fb, extra=q))])
    h.send(ev("go", at(hours=8), traits=ADA))  # 20:00 UTC: email goes out
    h.send(ev("message.bounced", at(hours=10), props={"action_id": h.actions[0].action_id}))  # 22:00: quiet
    assert len(h.actions) == 1
    h.advance(at(days=1))
    assert h.sent()[1] == ("msg", "sms", datetime(2026, 1, 15, 8, tzinfo=UTC))

    h2 = Harness([journey(message_journey(node_extra=fb))])
    h2.send(ev("go", traits=ADA))
    h2.send(ev("consent.updated", at(minutes=1), props={"channel": "sms", "status": "opted_out"}))
    h2.send(ev("message.bounced", at(minutes=2), props={"action_id": h2.actions[0].action_id}))
    assert len(h2.actions) == 1 and h2.suppressed() == [("msg", "consent")]


def test_holdout_is_tracked_never_messaged_and_still_converts() -> None:
    j = journey("""
        id: h
        name: H
        entry: {event: go}
        goals: [{event: buy}]
        holdout: {percent: 50}
        start: msg
        nodes:
          msg: {type: message, channel: in_app, template: t, next: w}
          w: {type: wait, duration: 1d, next: done}
          done: {type: exit}
    """)
    h = Harness([j])
    for i in range(200):
        h.send(ev("go", user=f"u{i}"))
        h.send(ev("buy", at(hours=1), user=f"u{i}"))
    held = {o.user_id for o in h.outcomes if o.kind.value == "entered" and o.detail == "holdout"}
    assert 60 < len(held) < 140
    assert not any(a.user_id in held for a in h.actions)
    assert {o.user_id for o in h.outcomes if o.kind.value == "suppressed" and o.detail == "holdout"} == held
    assert {o.user_id for o in h.outcomes if o.kind.value == "converted"} == {f"u{i}" for i in range(200)}


def test_erase_exits_everything_and_sends_nothing_ever_again() -> None:
    fb = ", fallback: {channel: sms, template: t_sms}"
    wait = journey("""
        id: w
        name: W
        entry: {event: go}
        start: w
        nodes:
          w: {type: wait, duration: 1h, next: m}
          m: {type: message, channel: email, template: t, next: done}
          done: {type: exit}
    """)
    h = Harness([wait, journey(message_journey(node_extra=fb))])
    h.send(ev("go", traits=ADA))
    sent_before = len(h.actions)
    step = h.send(ev("user.deleted", at(minutes=1)))
    assert step.erasure is not None and step.erasure.user_id == "u1"
    assert ("exited", "w", "erased") in h.kinds()
    state = h.state()
    assert state.erased and state.profile == {} and state.instances == [] and state.fallbacks == []
    after = h.send(ev("go", at(minutes=2), traits=ADA))
    h.send(ev("message.bounced", at(minutes=3), props={"action_id": h.actions[0].action_id}))
    h.advance(at(days=30))
    assert after.outcomes == [] and len(h.actions) == sent_before
    assert h.timers.get("u1") is None


def test_erased_tombstone_expires_when_configured() -> None:
    h = Harness([journey(message_journey())], Guardrails(erased_ttl=timedelta(days=30)))
    h.send(ev("go", traits=ADA))
    step = h.send(ev("user.deleted", at(minutes=1)))
    assert step.wakeup == at(days=30, minutes=1)
    h.advance(at(days=31))
    assert "u1" not in h.store


def test_idle_users_are_compacted_after_the_ttl() -> None:
    h = Harness([journey(message_journey(reentry="never"))], Guardrails(idle_ttl=timedelta(days=90)))
    h.send(ev("consent.updated", props={"channel": "sms", "status": "opted_out"}, traits=ADA))
    h.send(ev("go", at(minutes=1)))
    assert h.timers["u1"] == at(days=90, minutes=1)
    h.advance(at(days=100))
    state = h.state()
    assert state.profile == {} and state.consent == {"sms:*": False} and set(state.entries) == {"m"}
    assert "u1" not in h.timers
    h.send(ev("go", at(days=101), traits=ADA))  # `never` still holds after compaction
    assert len(h.actions) == 1


def test_schedule_window_blocks_entries_and_sends() -> None:
    window = "window: {start_at: '2026-01-14T13:00:00Z', end_at: '2026-01-15T00:00:00Z'}"
    j = journey(f"""
        id: win
        name: Win
        entry: {{event: go, reentry: {{policy: always}}}}
        {window}
        start: w
        nodes:
          w: {{type: wait, duration: 10h, next: m}}
          m: {{type: message, channel: in_app, template: t, next: done}}
          done: {{type: exit}}
    """)
    h = Harness([j])
    h.send(ev("go", T0))  # before the window: no entry
    h.send(ev("go", at(hours=2)))  # enters; its message at 24:00 falls after the window
    h.advance(at(days=2))
    assert [k[0] for k in h.kinds()].count("entered") == 1
    assert h.suppressed() == [("m", "schedule")]


def test_one_instance_per_channel_action_ids_stay_unique_with_fallbacks() -> None:
    fb = ", fallback: {channel: sms, template: t_sms}"
    h = Harness([journey(message_journey(node_extra=fb))])
    for minutes in range(5):
        h.send(ev("go", at(minutes=minutes), traits=ADA))
        h.send(ev("message.failed", at(minutes=minutes, seconds=30), props={"action_id": h.actions[-1].action_id}))
    ids = [a.action_id for a in h.actions]
    assert len(ids) == len(set(ids)) == 10


def test_guardrails_round_trip_and_consent_rule_specificity() -> None:
    g = Guardrails.model_validate({
        "caps": [{"channel": "email", "max": 2, "per": "1d"}],
        "quiet_hours": {"from": "21:00", "to": "08:00"},
        "consent": [
            {"channel": "sms", "require_opt_in": True},
            {"channel": "sms", "category": "transactional", "require_opt_in": False},
        ],
        "idle_ttl": None,
    })
    assert Guardrails.model_validate(g.model_dump(mode="json")) == g
    assert g.requires_opt_in("sms", "marketing") and not g.requires_opt_in("sms", "transactional")
    assert not g.requires_opt_in("email", "marketing")
    with pytest.raises(ValueError, match="unknown timezone"):
        Guardrails(default_tz="Nowhere/Land")
