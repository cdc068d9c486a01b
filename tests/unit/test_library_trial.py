"""Library journey `trial-onboarding`: checklist flag, behaviour-driven emails, adoption check, ending notice."""

from __future__ import annotations

import pytest
from library_support import Sent, ev, local, pick_user, run

pytestmark = pytest.mark.unit

J = "trial-onboarding"
NY = "America/New_York"
TRIAL = {"plan": "Team", "trial_days": 14, "trial_ends_on": "2026-05-18"}
KIM = {"email": "kim@acme.io", "first_name": "Kim", "company": "Acme", "company_size": 120, "role": "Head of Ops",
       "push_token": "tok-kim"}
LEE = {"email": "lee@small.io", "first_name": "Lee", "company_size": 5}


def started(user: str, when: str, traits: dict) -> object:
    return ev(user, "trial.started", local(NY, when), props=TRIAL, traits=traits, tz=NY)


def did(user: str, type: str, when: str) -> object:
    return ev(user, type, local(NY, when))


def test_a_power_user_from_a_large_team_is_flagged_to_sales_and_marked_activated() -> None:
    u = pick_user("t", J)
    sc = run(
        [
            started(u, "2026-05-04 09:30", KIM),
            did(u, "project.created", "2026-05-04 10:00"),
            did(u, "project.created", "2026-05-04 11:00"),
            did(u, "project.created", "2026-05-05 16:00"),
            did(u, "teammate.invited", "2026-05-06 11:00"),
        ],
        until=local(NY, "2026-05-25 00:00"),
    )
    start = local(NY, "2026-05-04 09:30")
    assert sc.sent(u) == [
        Sent(f"{J}:1:{u}:checklist_on:1", "flag", None, start, {}),
        Sent(f"{J}:1:{u}:welcome_inapp:1", "in_app", "trial_welcome_inapp", start, {}),
        Sent(f"{J}:1:{u}:sales_alert:1", "slack", "trial_sales_alert", start, {}),
        # A project on day 0: day 1 goes straight to "invite your team".
        Sent(f"{J}:1:{u}:invite_email:1", "email", "trial_invite_team", local(NY, "2026-05-05 09:30"),
             {"email": "kim@acme.io"}),
        # Day 5 09:30 + 3 days, then the next weekday 09:00.
        Sent(f"{J}:1:{u}:trial_ending_email:1", "email", "trial_ending", local(NY, "2026-05-13 09:00"),
             {"email": "kim@acme.io"}),
    ]
    assert sc.story(J, u) == [
        ("entered", "checklist_on", None),
        ("branch", "sales_assist?", "large_team"),
        ("branch", "has_project?", "has_project"),
        ("branch", "adoption?", "power_user"),
        ("exited", "done", "completed"),
    ]
    assert sc.action(f"{J}:1:{u}:checklist_on:1").params == {"flag": "onboarding_checklist", "value": True}
    profile = sc.profile(u)
    assert (profile["trial_stage"], profile["pql_score"]) == ("activated", 50)
    assert sc.text(f"{J}:1:{u}:sales_alert:1", "text") == (
        ":rocket: New Team trial from *Acme* (120 employees): Kim, Head of Ops, kim@acme.io. "
        "Trial ends 2026-05-18. User id `" + u + "`."
    )
    ending = sc.text(f"{J}:1:{u}:trial_ending_email:1", "text")
    assert "Your Team trial ends on 2026-05-18." in ending
    assert "Your team is already set up" in ending
    assert sc.action(f"{J}:1:{u}:trial_ending_email:1").priority.value == "transactional"


def test_a_solo_user_without_the_app_gets_the_collaboration_nudge_by_email() -> None:
    u = pick_user("t", J)
    sc = run(
        [started(u, "2026-05-04 09:30", LEE), did(u, "project.created", "2026-05-06 15:00")],
        until=local(NY, "2026-05-25 00:00"),
    )
    lee = {"email": "lee@small.io"}
    assert [s for s in sc.sent(u) if s.channel != "flag"] == [
        Sent(f"{J}:1:{u}:welcome_inapp:1", "in_app", "trial_welcome_inapp", local(NY, "2026-05-04 09:30"), {}),
        Sent(f"{J}:1:{u}:first_project_email:1", "email", "trial_first_project", local(NY, "2026-05-05 09:30"), lee),
        # The project came on day 2: a day to enjoy it, then "invite your team".
        Sent(f"{J}:1:{u}:invite_email:1", "email", "trial_invite_team", local(NY, "2026-05-07 15:00"), lee),
        # No push token: the push's email fallback goes at once.
        Sent(f"{J}:1:{u}:collab_push~fb:1", "email", "trial_collab_email", local(NY, "2026-05-11 15:00"), lee),
        Sent(f"{J}:1:{u}:trial_ending_email:1", "email", "trial_ending", local(NY, "2026-05-15 09:00"), lee),
    ]
    assert sc.story(J, u) == [
        ("entered", "checklist_on", None),
        ("branch", "sales_assist?", "default"),
        ("branch", "has_project?", "default"),
        ("branch", "project_made?", "on_event"),
        ("branch", "adoption?", "solo"),
        ("suppressed", "collab_push", "no_address"),
        ("exited", "done", "completed"),
    ]
    assert "trial_stage" not in sc.profile(u)
    assert "Choose a plan to keep your projects" in sc.text(f"{J}:1:{u}:trial_ending_email:1", "text")


def test_a_user_who_never_starts_gets_the_setup_call_offer_and_the_integrations_tip() -> None:
    u = pick_user("t", J)
    sc = run([started(u, "2026-05-04 09:30", LEE)], until=local(NY, "2026-05-25 00:00"))
    assert [(s.action_id, s.ts) for s in sc.sent(u) if s.channel != "flag"] == [
        (f"{J}:1:{u}:welcome_inapp:1", local(NY, "2026-05-04 09:30")),
        (f"{J}:1:{u}:first_project_email:1", local(NY, "2026-05-05 09:30")),
        (f"{J}:1:{u}:setup_help_email:1", local(NY, "2026-05-07 09:30")),
        (f"{J}:1:{u}:integrations_inapp:1", local(NY, "2026-05-11 09:30")),
        (f"{J}:1:{u}:trial_ending_email:1", local(NY, "2026-05-15 09:00")),
    ]
    assert [x for x in sc.story(J, u) if x[0] == "branch"] == [
        ("branch", "sales_assist?", "default"),
        ("branch", "has_project?", "default"),
        ("branch", "project_made?", "on_timeout"),
        ("branch", "adoption?", "default"),
    ]


def test_upgrading_mid_trial_converts_and_stops_the_journey() -> None:
    u = pick_user("t", J)
    sc = run(
        [
            started(u, "2026-05-04 09:30", KIM),
            did(u, "project.created", "2026-05-04 10:00"),
            ev(u, "subscription.started", local(NY, "2026-05-07 16:45"), props={"plan": "Team", "mrr": 480}),
        ],
        until=local(NY, "2026-05-25 00:00"),
    )
    assert [s.template for s in sc.sent(u)] == [None, "trial_welcome_inapp", "trial_sales_alert", "trial_invite_team"]
    assert sc.story(J, u)[-2:] == [("converted", "day_7", "upgraded"), ("exited", "day_7", "goal")]


def test_canceling_the_trial_leaves_at_once() -> None:
    u = pick_user("t", J)
    sc = run(
        [started(u, "2026-05-04 09:30", LEE), did(u, "trial.canceled", "2026-05-05 08:00")],
        until=local(NY, "2026-05-25 00:00"),
    )
    assert [s.channel for s in sc.sent(u)] == ["flag", "in_app"]
    assert sc.story(J, u) == [
        ("entered", "checklist_on", None),
        ("branch", "sales_assist?", "default"),
        ("exited", "day_1", "exit_on"),
    ]


def test_an_evening_signup_sees_the_welcome_and_alerts_sales_at_once_but_email_waits_for_morning() -> None:
    u = pick_user("t", J)
    sc = run([started(u, "2026-05-04 22:10", KIM)], until=local(NY, "2026-05-06 12:00"))
    assert [(s.action_id, s.ts) for s in sc.sent(u)] == [
        (f"{J}:1:{u}:checklist_on:1", local(NY, "2026-05-04 22:10")),
        # Transactional in-app welcome and the internal Slack alert ignore the user's quiet hours.
        (f"{J}:1:{u}:welcome_inapp:1", local(NY, "2026-05-04 22:10")),
        (f"{J}:1:{u}:sales_alert:1", local(NY, "2026-05-04 22:10")),
        # Day 1 at 22:10 is inside 20:00-08:00: the email is held until 08:00.
        (f"{J}:1:{u}:first_project_email:1", local(NY, "2026-05-06 08:00")),
    ]
    assert ("node", "first_project_email", "deferred:quiet_hours until 2026-05-06T12:00:00+00:00") in sc.story(J, u)
