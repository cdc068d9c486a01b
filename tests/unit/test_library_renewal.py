"""Library journey `renewal-reminder`: legal notice and card check for auto-renewals, renew-now sequence."""

from __future__ import annotations

import json

import pytest
from library_support import Sent, ev, local, pick_user, run

pytestmark = pytest.mark.unit

J = "renewal-reminder"
NY = "America/New_York"
RENEWAL = {"plan": "Business", "interval": "year", "amount": 4800, "currency": "USD", "renews_on": "2026-06-03"}
PAT = {"email": "pat@corp.com", "first_name": "Pat", "company": "Corp", "phone": "+15550102", "card_last4": "4242"}
AL = {"email": "al@corp.com", "first_name": "Al", "push_token": "tok-al"}


def upcoming(user: str, when: str, traits: dict, **props: object) -> object:
    return ev(user, "subscription.renewal_upcoming", local(NY, when), props={**RENEWAL, **props}, traits=traits, tz=NY)


def test_an_auto_renewal_gets_the_legal_notice_at_once_sms_on_bounce_and_a_card_reminder() -> None:
    u = pick_user("n", J)
    sc = run(
        [
            # Billing's announcement lands late in the evening.
            upcoming(u, "2026-05-04 23:10", {**PAT, "card_expiring": True}, auto_renew=True),
            ev(u, "message.bounced", local(NY, "2026-05-05 00:10"),
               props={"action_id": f"{J}:1:{u}:renewal_notice:1", "reason": "mailbox does not exist"}),
            ev(u, "subscription.renewed", local(NY, "2026-06-03 04:00"), props={"plan": "Business"}),
        ],
        until=local(NY, "2026-06-10 00:00"),
    )
    assert sc.sent(u) == [
        # Transactional: quiet hours (21:00-08:00) do not hold it.
        Sent(f"{J}:1:{u}:renewal_notice:1", "email", "renewal_notice", local(NY, "2026-05-04 23:10"),
             {"email": "pat@corp.com"}),
        # The fallback keeps the node's priority and category: no SMS marketing opt-in needed, no quiet hours.
        Sent(f"{J}:1:{u}:renewal_notice~fb:1", "sms", "renewal_notice_sms", local(NY, "2026-05-05 00:10"),
             {"phone": "+15550102"}),
        # Sixteen days later is 23:10 on the 20th; the card email waits for a weekday 10:00.
        Sent(f"{J}:1:{u}:update_card_email:1", "email", "renewal_update_card", local(NY, "2026-05-21 10:00"),
             {"email": "pat@corp.com"}),
    ]
    assert sc.story(J, u) == [
        ("entered", "auto_renew?", None),
        ("branch", "auto_renew?", "auto_renew"),
        ("branch", "card_ok?", "card_expiring"),
        ("converted", "renewal_window", "renewed"),
        ("exited", "renewal_window", "goal"),
    ]
    notice = sc.action(f"{J}:1:{u}:renewal_notice:1")
    assert (notice.priority.value, notice.category, notice.fallback) == ("transactional", "transactional", "sms")
    assert sc.text(f"{J}:1:{u}:renewal_notice:1", "subject") == "Your Business plan renews on 2026-06-03"
    assert "for USD 4800.00\ncharged to the card ending in 4242." in sc.text(f"{J}:1:{u}:renewal_notice:1", "text")
    assert sc.text(f"{J}:1:{u}:renewal_notice~fb:1", "body") == (
        "Example: your Business plan renews on 2026-06-03 for USD 4800.00. Manage it at https://app.example.com/billing"
    )


def test_an_auto_renewal_with_a_good_card_gets_only_the_notice() -> None:
    u = pick_user("n", J)
    sc = run([upcoming(u, "2026-05-04 09:00", PAT, auto_renew=True)], until=local(NY, "2026-06-10 00:00"))
    assert [(s.action_id, s.ts) for s in sc.sent(u)] == [(f"{J}:1:{u}:renewal_notice:1", local(NY, "2026-05-04 09:00"))]
    assert sc.story(J, u) == [
        ("entered", "auto_renew?", None),
        ("branch", "auto_renew?", "auto_renew"),
        ("branch", "card_ok?", "default"),
        ("exited", "done", "completed"),
    ]
    assert sc.outcomes(J, u)[-1].ts == local(NY, "2026-06-05 09:00")


def test_a_manual_renewal_that_lapses_gets_two_emails_and_opens_a_crm_task() -> None:
    u = pick_user("n", J)
    sc = run(
        [
            ev(u, "consent.updated", local(NY, "2026-01-10 12:00"), tz=NY, traits={**AL, "phone": "+15550104"},
               props={"channel": "sms", "category": "marketing", "status": "opted_in"}),
            upcoming(u, "2026-05-04 09:00", {}, auto_renew=False),
        ],
        until=local(NY, "2026-06-10 00:00"),
    )
    al = {"email": "al@corp.com"}
    assert sc.sent(u) == [
        Sent(f"{J}:1:{u}:renew_now_email:1", "email", "renewal_renew_now", local(NY, "2026-05-04 09:00"), al),
        # 23 days on is Wednesday 27 May 09:00; the last call waits for 10:00.
        Sent(f"{J}:1:{u}:last_call_email:1", "email", "renewal_last_call", local(NY, "2026-05-27 10:00"), al),
        # He accepts marketing texts: one the day before the date.
        Sent(f"{J}:1:{u}:final_sms:1", "sms", "renewal_final_sms", local(NY, "2026-06-02 10:00"),
             {"phone": "+15550104"}),
        # The day after the renewal date, still no renewal.
        Sent(f"{J}:1:{u}:lapsed_task:1", "webhook", "crm_renewal_lapsed", local(NY, "2026-06-04 10:00"), {}),
    ]
    assert sc.story(J, u) == [
        ("entered", "auto_renew?", None),
        ("branch", "auto_renew?", "default"),
        ("exited", "done", "completed"),
    ]
    task = sc.rendered[f"{J}:1:{u}:lapsed_task:1"]
    assert (task["method"], task["url"]) == ("POST", "https://crm.example.com/api/v1/tasks")
    assert sc.text(f"{J}:1:{u}:final_sms:1", "body") == (
        "Example: your Business plan ends tomorrow (2026-06-03). Renew in two clicks: "
        "https://app.example.com/billing/renew Reply STOP to opt out."
    )
    assert json.loads(task["body"]) == {
        "type": "renewal_lapsed",
        "account_id": u,
        "plan": "Business",
        "renews_on": "2026-06-03",
        "amount": 4800,
        "owner": "renewals@example.com",
        "idempotency_key": f"{J}:1:{u}:lapsed_task:1",
    }


def test_renewing_after_the_first_email_converts_and_stops_the_sequence() -> None:
    u = pick_user("n", J)
    sc = run(
        [upcoming(u, "2026-05-04 09:00", AL, auto_renew=False),
         ev(u, "subscription.renewed", local(NY, "2026-05-12 14:00"))],
        until=local(NY, "2026-06-10 00:00"),
    )
    assert [s.template for s in sc.sent(u)] == ["renewal_renew_now"]
    assert sc.story(J, u)[-2:] == [("converted", "wait_t7", "renewed"), ("exited", "wait_t7", "goal")]


def test_a_late_announcement_holds_the_marketing_email_until_morning_and_the_last_call_falls_back_to_push() -> None:
    u = pick_user("n", J)
    sc = run(
        [
            upcoming(u, "2026-05-04 23:10", AL, auto_renew=False),
            ev(u, "message.unsubscribed", local(NY, "2026-05-10 12:00"), props={"channel": "email"}),
        ],
        until=local(NY, "2026-06-05 00:00"),
    )
    assert sc.sent(u) == [
        Sent(f"{J}:1:{u}:renew_now_email:1", "email", "renewal_renew_now", local(NY, "2026-05-05 08:00"),
             {"email": "al@corp.com"}),
        # Unsubscribed from marketing email since: the last call goes by push, at once.
        Sent(f"{J}:1:{u}:last_call_email~fb:1", "push", "renewal_last_call_push", local(NY, "2026-05-28 10:00"),
             {"push_token": "tok-al"}),
    ]
    assert sc.story(J, u) == [
        ("entered", "auto_renew?", None),
        ("branch", "auto_renew?", "default"),
        ("node", "renew_now_email", "deferred:quiet_hours until 2026-05-05T12:00:00+00:00"),
        ("suppressed", "last_call_email", "consent"),
        # No opt-in to marketing texts (the settings require one): no day-before SMS either.
        ("suppressed", "final_sms", "consent"),
    ]
    assert sc.text(f"{J}:1:{u}:last_call_email~fb:1", "body") == (
        "Your Business plan ends on 2026-06-03. Renew to keep your workspace."
    )


def test_canceling_ends_the_reminders_and_monthly_plans_never_enter() -> None:
    canceled, monthly = pick_user("n", J), pick_user("m", J)
    sc = run(
        [
            upcoming(canceled, "2026-05-04 09:00", PAT, auto_renew=True),
            ev(canceled, "subscription.canceled", local(NY, "2026-05-06 10:00")),
            upcoming(monthly, "2026-05-04 09:00", AL, auto_renew=True, interval="month"),
        ],
        until=local(NY, "2026-06-10 00:00"),
    )
    assert [s.template for s in sc.sent(canceled)] == ["renewal_notice"]
    assert sc.story(J, canceled)[-1] == ("exited", "wait_t14", "exit_on")
    assert sc.journeys_entered(monthly) == [] and sc.sent(monthly) == []
