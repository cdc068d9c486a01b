"""Library journey `lead-nurturing`: scored nurture emails, MQL handoff to CRM and Slack, recycle."""

from __future__ import annotations

import json

import pytest
from library_support import Sent, delivery, ev, local, pick_user, run

pytestmark = pytest.mark.unit

J = "lead-nurturing"
CHI = "America/Chicago"
EBOOK = {"source": "ebook", "asset_title": "The 2026 Ops Reporting Benchmark",
         "asset_url": "https://example.com/assets/benchmark.pdf", "utm_campaign": "q2-benchmark"}
JO = {"email": "jo@bigco.com", "first_name": "Jo", "company": "BigCo", "job_title": "VP Operations",
      "company_size": 1200}
MAX = {"email": "max@small.io", "first_name": "Max", "company": "Small", "company_size": 12}


def lead(user: str, when: str, traits: dict) -> object:
    return ev(user, "lead.created", local(CHI, when), props=EBOOK, traits=traits, tz=CHI)


def clicked(user: str, node: str, when: str) -> object:
    email = Sent(f"{J}:1:{user}:{node}:1", "email", None, local(CHI, when), {})
    return delivery(email, "clicked", local(CHI, when))


def test_an_engaged_ideal_customer_becomes_an_mql_handed_to_crm_and_sales_then_books_a_demo() -> None:
    u = pick_user("l", J)
    sc = run(
        [
            lead(u, "2026-05-04 15:00", JO),
            clicked(u, "asset_email", "2026-05-04 16:00"),
            clicked(u, "case_study_email", "2026-05-07 11:00"),
            ev(u, "demo.requested", local(CHI, "2026-05-12 09:30")),
        ],
        until=local(CHI, "2026-06-01 00:00"),
    )
    jo = {"email": "jo@bigco.com"}
    assert sc.sent(u) == [
        Sent(f"{J}:1:{u}:asset_email:1", "email", "lead_asset_delivery", local(CHI, "2026-05-04 15:00"), jo),
        # Opened the asset within the hour: the first nurture email goes the next Tue-Thu morning.
        Sent(f"{J}:1:{u}:case_study_email:1", "email", "lead_case_study", local(CHI, "2026-05-05 10:00"), jo),
        # 10 (form) + 20 (fit) + 5 (asset) + 15 (case study) = 50 on the click: handed over at once.
        Sent(f"{J}:1:{u}:crm_handoff:1", "webhook", "crm_mql_handoff", local(CHI, "2026-05-07 11:00"), {}),
        Sent(f"{J}:1:{u}:sales_alert:1", "slack", "lead_mql_alert", local(CHI, "2026-05-07 11:00"), {}),
    ]
    assert sc.story(J, u) == [
        ("entered", "score_form", None),
        ("branch", "fit?", "icp_fit"),
        ("branch", "asset_opened?", "on_event"),
        ("branch", "case_study_clicked?", "on_event"),
        ("branch", "mql?", "mql"),
        ("converted", "demo_window", "demo_requested"),
        ("exited", "demo_window", "goal"),
    ]
    profile = sc.profile(u)
    assert (profile["lead_score"], profile["lifecycle_stage"]) == (50, "mql")
    assert [(p.node_id, p.increment) for p in sc.result.profile_updates if p.increment] == [
        ("score_form", {"lead_score": 10.0}),
        ("score_fit", {"lead_score": 20.0}),
        ("score_asset", {"lead_score": 5.0}),
        ("score_case_study", {"lead_score": 15.0}),
    ]
    handoff = sc.rendered[f"{J}:1:{u}:crm_handoff:1"]
    assert (handoff["method"], handoff["url"]) == ("PUT", f"https://crm.example.com/api/v1/leads/{u}")
    assert json.loads(handoff["body"]) == {
        "email": "jo@bigco.com", "first_name": "Jo", "company": "BigCo", "job_title": "VP Operations",
        "lifecycle_stage": "mql", "lead_score": 50, "source": "ebook", "campaign": "q2-benchmark",
        "first_asset": "The 2026 Ops Reporting Benchmark",
    }
    assert sc.text(f"{J}:1:{u}:sales_alert:1", "text") == (
        ":dart: New MQL: *Jo* (VP Operations) at *BigCo*, score 50. "
        "Came in through The 2026 Ops Reporting Benchmark. jo@bigco.com"
    )
    assert sc.action(f"{J}:1:{u}:asset_email:1").priority.value == "transactional"


def test_a_cold_lead_gets_two_nurture_emails_on_weekday_mornings_and_is_recycled() -> None:
    u = pick_user("l", J)
    sc = run([lead(u, "2026-05-04 15:00", MAX)], until=local(CHI, "2026-06-01 00:00"))
    mx = {"email": "max@small.io"}
    assert sc.sent(u) == [
        Sent(f"{J}:1:{u}:asset_email:1", "email", "lead_asset_delivery", local(CHI, "2026-05-04 15:00"), mx),
        # No click in two days (Wednesday 15:00): the next Tue-Thu 10:00 is Thursday.
        Sent(f"{J}:1:{u}:case_study_email:1", "email", "lead_case_study", local(CHI, "2026-05-07 10:00"), mx),
        # No click in four days (Monday): Tuesday 10:00.
        Sent(f"{J}:1:{u}:webinar_email:1", "email", "lead_webinar_invite", local(CHI, "2026-05-12 10:00"), mx),
    ]
    assert sc.story(J, u) == [
        ("entered", "score_form", None),
        ("branch", "fit?", "default"),
        ("branch", "asset_opened?", "on_timeout"),
        ("branch", "case_study_clicked?", "on_timeout"),
        ("branch", "mql?", "default"),
        ("branch", "webinar_clicked?", "on_timeout"),
        ("branch", "final_mql?", "default"),
        ("exited", "done", "completed"),
    ]
    assert sc.profile(u)["lead_score"] == 10
    assert sc.profile(u)["lifecycle_stage"] == "recycled"
    assert sc.text(f"{J}:1:{u}:case_study_email:1", "subject") == "How a team like Small cut reporting time by 60%"


def test_two_pricing_page_visits_qualify_a_low_score_lead() -> None:
    u = pick_user("l", J)
    sc = run(
        [
            # One visit before the form counts too: the counter covers 30 days whatever the journey.
            ev(u, "pricing.viewed", local(CHI, "2026-04-28 10:00"), traits=MAX, tz=CHI),
            lead(u, "2026-05-04 15:00", MAX),
            ev(u, "pricing.viewed", local(CHI, "2026-05-08 13:00")),
        ],
        until=local(CHI, "2026-06-01 00:00"),
    )
    assert [(s.template, s.ts) for s in sc.sent(u)] == [
        ("lead_asset_delivery", local(CHI, "2026-05-04 15:00")),
        ("lead_case_study", local(CHI, "2026-05-07 10:00")),
        ("crm_mql_handoff", local(CHI, "2026-05-11 10:00")),
        ("lead_mql_alert", local(CHI, "2026-05-11 10:00")),
    ]
    assert ("branch", "mql?", "mql") in sc.story(J, u)
    assert sc.profile(u)["lead_score"] == 10


def test_a_demo_request_mid_nurture_converts_and_stops_the_emails() -> None:
    u = pick_user("l", J)
    sc = run(
        [lead(u, "2026-05-04 15:00", MAX), ev(u, "demo.requested", local(CHI, "2026-05-06 09:00"))],
        until=local(CHI, "2026-06-01 00:00"),
    )
    assert [s.template for s in sc.sent(u)] == ["lead_asset_delivery"]
    assert sc.story(J, u)[-2:] == [
        ("converted", "asset_opened?", "demo_requested"),
        ("exited", "asset_opened?", "goal"),
    ]


def test_an_unsubscribed_lead_still_gets_the_asset_it_asked_for_but_no_nurture() -> None:
    u = pick_user("l", J)
    sc = run(
        [
            ev(u, "message.unsubscribed", local(CHI, "2026-04-20 10:00"), props={"channel": "email"},
               traits=MAX, tz=CHI),
            lead(u, "2026-05-04 15:00", MAX),
        ],
        until=local(CHI, "2026-06-01 00:00"),
    )
    # The asset delivery is transactional: a marketing opt-out does not block it.
    assert [s.action_id for s in sc.sent(u)] == [f"{J}:1:{u}:asset_email:1"]
    assert [x for x in sc.story(J, u) if x[0] in ("suppressed", "exited")] == [
        ("suppressed", "case_study_email", "consent"),
        ("suppressed", "webinar_email", "consent"),
        ("exited", "done", "completed"),
    ]


def test_an_evening_form_gets_the_asset_at_once_and_a_disqualified_lead_leaves() -> None:
    u = pick_user("l", J)
    sc = run(
        [lead(u, "2026-05-04 21:40", MAX), ev(u, "lead.disqualified", local(CHI, "2026-05-05 09:00"))],
        until=local(CHI, "2026-06-01 00:00"),
    )
    assert [(s.template, s.ts) for s in sc.sent(u)] == [("lead_asset_delivery", local(CHI, "2026-05-04 21:40"))]
    assert sc.story(J, u) == [
        ("entered", "score_form", None),
        ("branch", "fit?", "default"),
        ("exited", "asset_opened?", "exit_on"),
    ]


def test_a_form_without_an_email_address_does_not_enter() -> None:
    u = pick_user("l", J)
    sc = run([lead(u, "2026-05-04 15:00", {"first_name": "Anon"})], until=local(CHI, "2026-05-10 00:00"))
    assert sc.journeys_entered(u) == [] and sc.sent(u) == []
