"""Library journey `churn-risk`: CSM alert and CRM task, check-in email, save offer vs education, holdout."""

from __future__ import annotations

import pytest
from library_support import Sent, delivery, ev, local, pick_user, run

pytestmark = pytest.mark.unit

J = "churn-risk"
NY = "America/New_York"
SEGMENT = {"segment": "churn_risk_high"}
DANA = {"email": "dana@bigacct.com", "first_name": "Dana", "company": "BigAcct", "plan": "monthly", "mrr": 1200,
        "churn_score": 0.82, "csm_name": "Rita Moreno", "csm_email": "rita@example.com", "last_login_days": 19}
ED = {"email": "ed@smallacct.com", "first_name": "Ed", "company": "SmallAcct", "plan": "annual", "mrr": 99,
      "push_token": "tok-ed"}


def at_risk(user: str, when: str, traits: dict | None = None, segment: str = "churn_risk_high") -> object:
    return ev(user, "segment.entered", local(NY, when), props={"segment": segment}, traits=traits, tz=NY)


def cleared(user: str, when: str) -> object:
    return ev(user, "segment.exited", local(NY, when), props=SEGMENT)


def test_a_big_account_goes_to_its_csm_first_then_gets_the_check_in_and_the_save_offer() -> None:
    u = pick_user("k", J, variants={"offer_test": "save_offer"})
    sc = run([at_risk(u, "2026-05-04 09:00", DANA)], until=local(NY, "2026-06-05 00:00"))
    dana = {"email": "dana@bigacct.com"}
    assert sc.sent(u) == [
        Sent(f"{J}:1:{u}:csm_alert:1", "slack", "churn_csm_alert", local(NY, "2026-05-04 09:00"), {}),
        Sent(f"{J}:1:{u}:crm_task:1", "webhook", None, local(NY, "2026-05-04 09:00"), {}),
        # The CSM logged no call within three days.
        Sent(f"{J}:1:{u}:checkin_email:1", "email", "churn_checkin", local(NY, "2026-05-07 09:00"), dana),
        # No click in three days: the save-offer arm turns the banner on and announces it; no app,
        # so the push's email fallback goes at once.
        Sent(f"{J}:1:{u}:offer_on:1", "flag", None, local(NY, "2026-05-10 09:00"), {}),
        Sent(f"{J}:1:{u}:offer_push~fb:1", "email", "churn_offer_email", local(NY, "2026-05-10 09:00"), dana),
        Sent(f"{J}:1:{u}:offer_off:1", "flag", None, local(NY, "2026-05-24 09:00"), {}),
    ]
    assert sc.story(J, u) == [
        ("entered", "tier?", None),
        ("branch", "tier?", "high_value"),
        ("branch", "csm_reached?", "on_timeout"),
        ("branch", "engaged?", "on_timeout"),
        ("split", "offer_test", "save_offer"),
        ("suppressed", "offer_push", "no_address"),
        ("exited", "done", "completed"),
    ]
    assert sc.action(f"{J}:1:{u}:offer_on:1").params == {"flag": "retention_offer", "value": True}
    assert sc.action(f"{J}:1:{u}:offer_off:1").params == {"flag": "retention_offer", "value": False}
    task = sc.rendered[f"{J}:1:{u}:crm_task:1"]
    assert task == {
        "method": "POST",
        "url": "https://crm.example.com/api/v1/tasks",
        "headers.Content-Type": "application/json",
        "body.type": "churn_risk_call",
        "body.account_id": u,
        "body.owner": "rita@example.com",
        "body.subject": "Churn risk: BigAcct (monthly)",
        "body.due_in_days": "2",
        "body.idempotency_key": f"{J}:1:{u}:crm_task:1",
    }
    assert sc.text(f"{J}:1:{u}:csm_alert:1", "text") == (
        ":rotating_light: Churn risk: *BigAcct* (monthly, MRR 1200, churn score 0.82). Last login 19 days ago. "
        "Owner: Rita Moreno. A CRM call task is open; log the call within 3 days or the account gets the "
        "automated check-in."
    )
    assert sc.text(f"{J}:1:{u}:checkin_email:1", "subject") == "Dana, quick question"
    assert sc.text(f"{J}:1:{u}:checkin_email:1", "text").endswith("Rita Moreno\n")


def test_a_call_logged_by_the_csm_replaces_the_automated_outreach_and_recovery_converts() -> None:
    u = pick_user("k", J)
    sc = run(
        [
            at_risk(u, "2026-05-04 09:00", DANA),
            ev(u, "csm.call_logged", local(NY, "2026-05-05 15:30"), props={"outcome": "connected"}),
            cleared(u, "2026-05-12 06:00"),
        ],
        until=local(NY, "2026-06-05 00:00"),
    )
    assert [s.channel for s in sc.sent(u)] == ["slack", "webhook"]
    assert sc.story(J, u) == [
        ("entered", "tier?", None),
        ("branch", "tier?", "high_value"),
        ("branch", "csm_reached?", "on_event"),
        ("converted", "save_window", "risk_cleared"),
        ("exited", "save_window", "goal"),
    ]


def test_a_small_account_in_the_education_arm_gets_the_check_in_and_an_in_app_tip() -> None:
    u = pick_user("k", J, variants={"offer_test": "education"})
    sc = run([at_risk(u, "2026-05-04 09:00", ED)], until=local(NY, "2026-06-05 00:00"))
    assert sc.sent(u) == [
        Sent(f"{J}:1:{u}:checkin_email:1", "email", "churn_checkin", local(NY, "2026-05-04 09:00"),
             {"email": "ed@smallacct.com"}),
        Sent(f"{J}:1:{u}:tips_inapp:1", "in_app", "churn_tips_inapp", local(NY, "2026-05-07 09:00"), {}),
    ]
    assert sc.story(J, u) == [
        ("entered", "tier?", None),
        ("branch", "tier?", "default"),
        ("branch", "engaged?", "on_timeout"),
        ("split", "offer_test", "education"),
        ("exited", "done", "completed"),
    ]
    assert sc.outcomes(J, u)[-1].ts == local(NY, "2026-05-21 09:00")
    assert sc.text(f"{J}:1:{u}:tips_inapp:1", "title") == "3 shortcuts teams on annual love"
    assert sc.text(f"{J}:1:{u}:checkin_email:1", "text").endswith("The Example customer success team\n")


def test_a_small_account_in_the_offer_arm_gets_the_push_and_its_plans_offer() -> None:
    u = pick_user("k", J, variants={"offer_test": "save_offer"})
    sc = run([at_risk(u, "2026-05-04 09:00", ED)], until=local(NY, "2026-06-05 00:00"))
    push = f"{J}:1:{u}:offer_push:1"
    assert [(s.action_id, s.ts) for s in sc.sent(u)][1:3] == [
        (f"{J}:1:{u}:offer_on:1", local(NY, "2026-05-07 09:00")),
        (push, local(NY, "2026-05-07 09:00")),
    ]
    assert sc.text(push, "body") == "Two months free when you renew. Open Example to claim it."


def test_the_holdout_gets_no_outreach_at_all_not_even_the_csm_alert() -> None:
    u = pick_user("k", J, holdout=True)
    sc = run([at_risk(u, "2026-05-04 09:00", DANA), cleared(u, "2026-05-09 11:00")],
             until=local(NY, "2026-06-05 00:00"))
    assert sc.sent(u) == []
    assert sc.story(J, u) == [
        ("entered", "tier?", "holdout"),
        ("branch", "tier?", "high_value"),
        ("suppressed", "csm_alert", "holdout"),
        ("suppressed", "crm_task", "holdout"),
        ("branch", "csm_reached?", "on_timeout"),
        ("suppressed", "checkin_email", "holdout"),
        ("converted", "engaged?", "risk_cleared"),
        ("exited", "engaged?", "goal"),
    ]


def test_a_click_on_the_check_in_skips_the_offer() -> None:
    u = pick_user("k", J, variants={"offer_test": "save_offer"})
    email = Sent(f"{J}:1:{u}:checkin_email:1", "email", "churn_checkin", local(NY, "2026-05-04 09:00"),
                 {"email": "ed@smallacct.com"})
    sc = run(
        [at_risk(u, "2026-05-04 09:00", ED), delivery(email, "clicked", local(NY, "2026-05-05 10:00"))],
        until=local(NY, "2026-06-05 00:00"),
    )
    assert sc.sent(u) == [email]
    assert sc.story(J, u)[-2:] == [("branch", "engaged?", "on_event"), ("exited", "done", "completed")]


def test_a_late_evening_entry_holds_the_check_in_until_morning() -> None:
    u = pick_user("k", J)
    sc = run([at_risk(u, "2026-05-04 22:30", ED)], until=local(NY, "2026-05-05 12:00"))
    assert [(s.action_id, s.ts) for s in sc.sent(u)] == [(f"{J}:1:{u}:checkin_email:1", local(NY, "2026-05-05 08:00"))]
    assert ("node", "checkin_email", "deferred:quiet_hours until 2026-05-05T12:00:00+00:00") in sc.story(J, u)


def test_canceling_leaves_at_once_other_segments_do_not_enter_and_a_new_risk_after_30_days_re_enters() -> None:
    canceled, other, again = pick_user("k", J), pick_user("o", J), pick_user("a", J)
    sc = run(
        [
            at_risk(canceled, "2026-05-04 09:00", ED),
            ev(canceled, "subscription.canceled", local(NY, "2026-05-05 09:00")),
            at_risk(other, "2026-05-04 09:00", ED, segment="power_users"),
            at_risk(again, "2026-05-04 09:00", ED),
            cleared(again, "2026-05-06 09:00"),
            # Back in the segment after 10 days: too soon (cooldown 30 days since the last entry).
            at_risk(again, "2026-05-14 09:00"),
            at_risk(again, "2026-06-05 09:00"),
        ],
        until=local(NY, "2026-06-06 00:00"),
    )
    assert sc.story(J, canceled)[-1] == ("exited", "engaged?", "exit_on")
    assert sc.journeys_entered(other) == []
    assert [(o.entry, o.ts) for o in sc.outcomes(J, again) if o.kind.value == "entered"] == [
        (1, local(NY, "2026-05-04 09:00")),
        (2, local(NY, "2026-06-05 09:00")),
    ]
    assert sc.sent(again)[-1].action_id == f"{J}:1:{again}:checkin_email:2"
