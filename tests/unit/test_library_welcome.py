"""Library journey `welcome-series`: welcome, day-1 setup nudge, day-3 story A/B, day-7 offer."""

from __future__ import annotations

import pytest
from library_support import Sent, ev, local, pick_user, run

pytestmark = pytest.mark.unit

J = "welcome-series"
NY = "America/New_York"
LA = "America/Los_Angeles"
ADA = {"email": "ada@example.com", "first_name": "Ada"}
BO = {"email": "bo@example.com", "first_name": "Bo", "push_token": "tok-bo"}


def signed_up(user: str, when: str, tz: str, traits: dict, **props: object) -> object:
    return ev(user, "user.signed_up", local(tz, when), props=props or {"signup_source": "web"}, traits=traits, tz=tz)


def test_a_new_user_gets_the_whole_series_on_weekday_mornings_in_her_timezone() -> None:
    u = pick_user("w", J, variants={"story_test": "social_proof"})
    sc = run([signed_up(u, "2026-05-04 14:00", NY, ADA)], until=local(NY, "2026-05-20 00:00"))

    email = {"email": "ada@example.com"}
    assert sc.sent(u) == [
        # Monday 14:00, at signup.
        Sent(f"{J}:1:{u}:welcome_email:1", "email", "welcome_email", local(NY, "2026-05-04 14:00"), email),
        # A day later, no app: the nudge goes to the in-app inbox.
        Sent(f"{J}:1:{u}:setup_inapp:1", "in_app", "welcome_setup_inapp", local(NY, "2026-05-05 14:00"), {}),
        # Thursday 14:00 plus the wait for the next weekday 10:00: Friday morning.
        Sent(f"{J}:1:{u}:story_social_proof:1", "email", "welcome_social_proof", local(NY, "2026-05-08 10:00"), email),
        # Four days later at 10:00, then 11:00 the same day.
        Sent(f"{J}:1:{u}:first_order_offer:1", "email", "welcome_first_order_offer",
             local(NY, "2026-05-12 11:00"), email),
    ]
    assert sc.story(J, u) == [
        ("entered", "welcome_email", None),
        ("branch", "set_up?", "default"),
        ("split", "story_test", "social_proof"),
        ("exited", "done", "completed"),
    ]
    assert sc.profile(u)["welcome_series_completed"] is True
    assert sc.journeys_entered(u) == [J]
    assert sc.text(f"{J}:1:{u}:welcome_email:1", "subject") == "Welcome, Ada! Your account is ready"
    assert "code WELCOME15 at checkout" in sc.text(f"{J}:1:{u}:first_order_offer:1", "text")
    welcome = sc.action(f"{J}:1:{u}:welcome_email:1")
    assert (welcome.priority.value, welcome.category) == ("transactional", "transactional")


def test_a_late_signup_gets_the_welcome_at_once_and_the_day_1_push_after_quiet_hours() -> None:
    u = pick_user("w", J, variants={"story_test": "feature_tour"})
    sc = run([signed_up(u, "2026-05-04 22:30", LA, BO, signup_source="ios")], until=local(LA, "2026-05-09 00:00"))

    assert sc.sent(u) == [
        # Transactional: quiet hours do not hold it.
        Sent(f"{J}:1:{u}:welcome_email:1", "email", "welcome_email", local(LA, "2026-05-04 22:30"),
             {"email": "bo@example.com"}),
        # Due Tuesday 22:30, inside quiet hours (21:00-08:00 in her timezone): deferred to 08:00.
        Sent(f"{J}:1:{u}:setup_push:1", "push", "welcome_setup_push", local(LA, "2026-05-06 08:00"),
             {"push_token": "tok-bo"}),
        # The series then runs from the deferred send: Friday 08:00, then the 10:00 slot.
        Sent(f"{J}:1:{u}:story_feature_tour:1", "email", "welcome_feature_tour", local(LA, "2026-05-08 10:00"),
             {"email": "bo@example.com"}),
    ]
    assert sc.story(J, u) == [
        ("entered", "welcome_email", None),
        ("branch", "set_up?", "has_app"),
        ("node", "setup_push", "deferred:quiet_hours until 2026-05-06T15:00:00+00:00"),
        ("split", "story_test", "feature_tour"),
    ]
    assert sc.text(f"{J}:1:{u}:setup_push:1", "title") == "Bo, two minutes to finish setting up"


def test_a_first_order_mid_series_converts_and_nothing_more_is_sent() -> None:
    u = pick_user("w", J)
    sc = run(
        [
            signed_up(u, "2026-05-04 14:00", NY, ADA),
            ev(u, "order.completed", local(NY, "2026-05-06 19:12"), props={"order_id": "o-1", "total": 54.0}),
        ],
        until=local(NY, "2026-05-20 00:00"),
    )
    assert [(s.action_id, s.ts) for s in sc.sent(u)] == [
        (f"{J}:1:{u}:welcome_email:1", local(NY, "2026-05-04 14:00")),
        (f"{J}:1:{u}:setup_inapp:1", local(NY, "2026-05-05 14:00")),
    ]
    assert sc.story(J, u) == [
        ("entered", "welcome_email", None),
        ("branch", "set_up?", "default"),
        ("converted", "day_3", "first_order"),
        ("exited", "day_3", "goal"),
    ]
    assert "welcome_series_completed" not in sc.profile(u)


def test_a_user_who_finished_setup_gets_no_setup_nudge() -> None:
    u = pick_user("w", J, variants={"story_test": "social_proof"})
    sc = run(
        [signed_up(u, "2026-05-04 14:00", NY, ADA), ev(u, "onboarding.completed", local(NY, "2026-05-04 14:20"))],
        until=local(NY, "2026-05-09 00:00"),
    )
    assert [s.template for s in sc.sent(u)] == ["welcome_email", "welcome_social_proof"]
    assert ("branch", "set_up?", "already_set_up") in sc.story(J, u)


def test_a_marketing_unsubscribe_stops_the_emails_but_not_the_offer_by_push() -> None:
    u = pick_user("w", J, variants={"story_test": "feature_tour"})
    sc = run(
        [
            signed_up(u, "2026-05-04 12:00", LA, BO),
            # The unsubscribe link in a marketing email elsewhere: opts her out of marketing email.
            ev(u, "message.unsubscribed", local(LA, "2026-05-05 09:00"), props={"channel": "email"}),
        ],
        until=local(LA, "2026-05-20 00:00"),
    )
    assert sc.sent(u) == [
        Sent(f"{J}:1:{u}:welcome_email:1", "email", "welcome_email", local(LA, "2026-05-04 12:00"),
             {"email": "bo@example.com"}),
        Sent(f"{J}:1:{u}:setup_push:1", "push", "welcome_setup_push", local(LA, "2026-05-05 12:00"),
             {"push_token": "tok-bo"}),
        # No consent for the email: the fallback goes at once on push, under its own action id.
        Sent(f"{J}:1:{u}:first_order_offer~fb:1", "push", "welcome_offer_push", local(LA, "2026-05-12 11:00"),
             {"push_token": "tok-bo"}),
    ]
    assert sc.story(J, u) == [
        ("entered", "welcome_email", None),
        ("branch", "set_up?", "has_app"),
        ("split", "story_test", "feature_tour"),
        ("suppressed", "story_feature_tour", "consent"),
        ("suppressed", "first_order_offer", "consent"),
        ("exited", "done", "completed"),
    ]
    assert sc.text(f"{J}:1:{u}:first_order_offer~fb:1", "body") == "Use code WELCOME15 at checkout. Valid for 7 days."


def test_only_users_with_an_email_enter_and_only_once() -> None:
    no_email, twice = pick_user("x", J), pick_user("y", J)
    sc = run(
        [
            signed_up(no_email, "2026-05-04 14:00", NY, {"first_name": "Cy", "phone": "+15550100"}),
            signed_up(twice, "2026-05-04 14:00", NY, ADA),
            # The same person signing up again (a second device, a retried form) does not restart it.
            ev(twice, "user.signed_up", local(NY, "2026-05-30 09:00"), props={"signup_source": "web"}),
        ],
        until=local(NY, "2026-06-02 00:00"),
    )
    assert sc.journeys_entered(no_email) == []
    assert sc.sent(no_email) == []
    assert sc.journeys_entered(twice) == [J]
    assert [s.template for s in sc.sent(twice)].count("welcome_email") == 1


def test_closing_the_account_ends_the_series_at_once() -> None:
    u = pick_user("w", J)
    sc = run(
        [signed_up(u, "2026-05-04 14:00", NY, ADA), ev(u, "account.closed", local(NY, "2026-05-05 09:00"))],
        until=local(NY, "2026-05-20 00:00"),
    )
    assert [s.template for s in sc.sent(u)] == ["welcome_email"]
    assert sc.story(J, u) == [("entered", "welcome_email", None), ("exited", "day_1", "exit_on")]


def test_a_referral_signup_reads_the_referral_in_the_welcome() -> None:
    u = pick_user("w", J)
    sc = run(
        [signed_up(u, "2026-05-04 14:00", NY, ADA, signup_source="referral", referral_code="FRIEND-42")],
        until=local(NY, "2026-05-04 15:00"),
    )
    text = sc.text(f"{J}:1:{u}:welcome_email:1", "text")
    assert "through a friend's invitation" in text
    assert "referral code FRIEND-42 is already applied" in text
