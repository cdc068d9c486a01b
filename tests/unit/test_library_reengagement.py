"""Library journey `re-engagement`: weekly schedule entry of 30-day inactives, email, push, offer A/B, sunset."""

from __future__ import annotations

import pytest
from library_support import Sent, delivery, ev, local, pick_user, run

pytestmark = pytest.mark.unit

J = "re-engagement"
NY = "America/New_York"
BERLIN = "Europe/Berlin"
SAM = {"email": "sam@example.com", "first_name": "Sam", "push_token": "tok-sam"}
EMAIL, PUSH = {"email": "sam@example.com"}, {"push_token": "tok-sam"}


def session(user: str, when: str, tz: str = NY, traits: dict | None = None) -> object:
    return ev(user, "session.started", local(tz, when), traits=traits, tz=tz)


def entries(sc: object, user: str) -> list:
    return [o.ts for o in sc.outcomes(J, user) if o.kind.value == "entered"]  # type: ignore[attr-defined]


def test_a_user_silent_for_30_days_enters_on_the_next_tuesday_and_is_sunset_when_unengaged() -> None:
    u = pick_user("r", J, variants={"offer_test": "incentive"})
    sc = run(
        [session(u, "2026-04-01 19:00", traits=SAM), session(u, "2026-04-02 08:00")],
        until=local(NY, "2026-06-01 00:00"),
    )
    # 28 April is only 26 days after the last session; 5 May is the first Tuesday past 30 days.
    assert entries(sc, u) == [local(NY, "2026-05-05 10:00")]
    assert sc.sent(u) == [
        Sent(f"{J}:1:{u}:miss_you_email:1", "email", "reengage_miss_you", local(NY, "2026-05-05 10:00"), EMAIL),
        # Not opened in three days: a push, because she has the app.
        Sent(f"{J}:1:{u}:comeback_push:1", "push", "reengage_comeback_push", local(NY, "2026-05-08 10:00"), PUSH),
        # Three days on is Monday; the offer waits for Tuesday morning.
        Sent(f"{J}:1:{u}:incentive_email:1", "email", "reengage_incentive", local(NY, "2026-05-12 10:00"), EMAIL),
    ]
    assert sc.story(J, u) == [
        ("entered", "miss_you_email", None),
        ("branch", "opened?", "on_timeout"),
        ("branch", "has_app?", "has_app"),
        ("split", "offer_test", "incentive"),
        ("branch", "sunset?", "unengaged"),
        ("exited", "done", "completed"),
    ]
    profile = sc.profile(u)
    assert (profile["email_sunset"], profile["lifecycle_stage"]) == (True, "dormant")
    assert sc.text(f"{J}:1:{u}:incentive_email:1", "subject") == "20% off to welcome you back"
    assert "code COMEBACK20" in sc.text(f"{J}:1:{u}:incentive_email:1", "text")


def test_the_schedule_runs_at_10_in_each_users_own_timezone() -> None:
    ny, berlin = pick_user("r", J), pick_user("b", J)
    sc = run(
        [
            session(berlin, "2026-04-02 08:00", BERLIN, traits={"email": "lena@example.de"}),
            session(ny, "2026-04-02 08:00", NY, traits={"email": "sam@example.com"}),
        ],
        until=local(NY, "2026-05-06 00:00"),
    )
    assert [(s.user_id, s.ts) for s in sc.sent()] == [
        (berlin, local(BERLIN, "2026-05-05 10:00")),
        (ny, local(NY, "2026-05-05 10:00")),
    ]


def test_coming_back_converts_and_ends_the_win_back() -> None:
    u = pick_user("r", J)
    sc = run(
        [session(u, "2026-04-02 08:00", traits=SAM), session(u, "2026-05-06 20:15")],
        until=local(NY, "2026-06-01 00:00"),
    )
    assert [s.action_id for s in sc.sent(u)] == [f"{J}:1:{u}:miss_you_email:1"]
    assert sc.story(J, u) == [
        ("entered", "miss_you_email", None),
        ("converted", "opened?", "reactivated"),
        ("exited", "opened?", "goal"),
    ]
    assert "email_sunset" not in sc.profile(u)


def test_the_holdout_is_tracked_but_never_contacted() -> None:
    u = pick_user("r", J, holdout=True)
    sc = run(
        [session(u, "2026-04-02 08:00", traits=SAM), session(u, "2026-05-11 12:00")],
        until=local(NY, "2026-06-01 00:00"),
    )
    assert sc.sent(u) == []
    assert sc.story(J, u) == [
        ("entered", "miss_you_email", "holdout"),
        ("suppressed", "miss_you_email", "holdout"),
        ("branch", "opened?", "on_timeout"),
        ("branch", "has_app?", "has_app"),
        ("suppressed", "comeback_push", "holdout"),
        ("converted", "offer_slot", "reactivated"),
        ("exited", "offer_slot", "goal"),
    ]


def test_active_users_and_users_without_sessions_never_enter_and_a_lapse_gets_one_win_back() -> None:
    active, lapsed, unknown = pick_user("r", J), pick_user("g", J), pick_user("n", J)
    sc = run(
        [
            session(lapsed, "2026-01-10 08:00", traits={"email": "lapsed@example.com"}),
            session(active, "2026-04-02 08:00", traits=SAM),
            session(active, "2026-04-25 08:00"),
            session(active, "2026-05-20 08:00"),
            # Known to the job (an identify), but never had a session.
            ev(unknown, "identify", local(NY, "2026-04-02 08:00"), traits=SAM, tz=NY),
        ],
        until=local(NY, "2026-06-01 00:00"),
    )
    assert entries(sc, active) == entries(sc, unknown) == []
    # Tried once in February; by the end of the 60-day cooldown the January session has left the
    # 90-day window, so the user is no longer a win-back candidate.
    assert entries(sc, lapsed) == [local(NY, "2026-02-10 10:00")]


def test_an_engaged_user_is_not_sunset_and_comes_round_again_after_60_days_but_a_sunset_one_never_does() -> None:
    sunset = pick_user("r", J, variants={"offer_test": "whats_new"})
    engaged = pick_user("s", J, variants={"offer_test": "whats_new"})
    no_app = {"email": "sam@example.com", "first_name": "Sam"}
    first_email = Sent(f"{J}:1:{engaged}:miss_you_email:1", "email", "reengage_miss_you",
                       local(NY, "2026-05-05 10:00"), EMAIL)
    sc = run(
        [
            session(sunset, "2026-04-02 08:00", traits=no_app),
            session(engaged, "2026-04-02 08:00", traits=no_app),
            delivery(first_email, "opened", local(NY, "2026-05-05 18:00")),
            # Both visit once after the win-back ended, then go quiet again.
            session(sunset, "2026-06-01 08:00"),
            session(engaged, "2026-06-01 08:00"),
        ],
        until=local(NY, "2026-07-20 00:00"),
    )
    assert sc.story(J, engaged)[:5] == [
        ("entered", "miss_you_email", None),
        ("branch", "opened?", "on_event"),
        ("split", "offer_test", "whats_new"),
        ("branch", "sunset?", "default"),
        ("exited", "done", "completed"),
    ]
    # Opened on Tuesday evening: three days on is Friday, the offer waits for Tuesday morning.
    assert [(s.action_id, s.ts) for s in sc.sent(engaged)][:2] == [
        (first_email.action_id, first_email.ts),
        (f"{J}:1:{engaged}:whats_new_email:1", local(NY, "2026-05-12 10:00")),
    ]
    # 30 days after 1 June and 60 after the first entry: the first Tuesday is 7 July.
    assert entries(sc, engaged) == [local(NY, "2026-05-05 10:00"), local(NY, "2026-07-07 10:00")]
    assert entries(sc, sunset) == [local(NY, "2026-05-05 10:00")]
    assert sc.profile(sunset)["email_sunset"] is True
