"""Library journey `post-purchase-feedback`: delivery push, review request, rating-based follow-up, reminder."""

from __future__ import annotations

import json

import pytest
from library_support import Sent, ev, local, pick_user, run

pytestmark = pytest.mark.unit

J = "post-purchase-feedback"
NY = "America/New_York"
ORDER = {"order_id": "o-981", "order_number": "#10981", "total": 129.0, "currency": "$",
         "products": [{"name": "Trail runner 2", "url": "https://shop.example.com/p/tr2"}, {"name": "Wool socks"}]}
MIA = {"email": "mia@example.com", "first_name": "Mia", "push_token": "tok-mia"}
EMAIL, PUSH = {"email": "mia@example.com"}, {"push_token": "tok-mia"}


def delivered(user: str, when: str, traits: dict | None = None, **props: object) -> object:
    traits = MIA if traits is None else traits
    return ev(user, "order.delivered", local(NY, when), props={**ORDER, **props}, traits=traits, tz=NY)


def reviewed(user: str, when: str, rating: int) -> object:
    # The shop sends the rating as a trait too: branches read the profile, not the review event.
    return ev(user, "review.submitted", local(NY, when), props={"order_id": "o-981", "rating": rating},
              traits={"last_review_rating": rating})


def test_a_happy_customer_is_asked_for_a_public_review_the_next_morning() -> None:
    u = pick_user("p", J)
    sc = run(
        [delivered(u, "2026-05-04 14:20"), reviewed(u, "2026-05-08 21:30", 5)],
        until=local(NY, "2026-05-25 00:00"),
    )
    assert sc.sent(u) == [
        Sent(f"{J}:1:{u}:delivered_push:1", "push", "postpurchase_delivered_push", local(NY, "2026-05-04 14:20"), PUSH),
        # Three days on is Thursday 14:20; the request waits for 10:00 on Friday.
        Sent(f"{J}:1:{u}:review_email:1", "email", "postpurchase_review_request", local(NY, "2026-05-08 10:00"),
             EMAIL),
        Sent(f"{J}:1:{u}:share_review_email:1", "email", "postpurchase_share_review", local(NY, "2026-05-09 11:00"),
             EMAIL),
    ]
    assert sc.story(J, u) == [
        ("entered", "delivered_push", None),
        ("branch", "already_reviewed?", "default"),
        # The goal converts without ending the journey: the rating still decides what comes next.
        ("converted", "reviewed?", "reviewed"),
        ("branch", "reviewed?", "on_event"),
        ("branch", "rating?", "promoter"),
        ("exited", "done", "completed"),
    ]
    assert sc.profile(u)["reviews_submitted"] == 1
    assert sc.text(f"{J}:1:{u}:delivered_push:1", "body") == "Trail runner 2 and 1 more was delivered. Enjoy!"
    assert sc.text(f"{J}:1:{u}:review_email:1", "subject") == "How is your Trail runner 2?"
    assert sc.text(f"{J}:1:{u}:review_email:1", "text") == (
        "Hi Mia,\n\nYour order #10981 arrived a few days ago. How is it?\n"
        "- Trail runner 2: rate it at https://shop.example.com/review?order=o-981&item=1\n"
        "- Wool socks: rate it at https://shop.example.com/review?order=o-981&item=2\n\n"
        "It takes 30 seconds and helps other shoppers (and us).\n"
    )


def test_an_unhappy_customer_gets_a_helpdesk_ticket_and_a_note_from_support_at_once_even_at_night() -> None:
    u = pick_user("p", J)
    sc = run(
        [delivered(u, "2026-05-04 14:20"), reviewed(u, "2026-05-08 21:30", 1)],
        until=local(NY, "2026-05-25 00:00"),
    )
    assert sc.sent(u)[2:] == [
        Sent(f"{J}:1:{u}:support_ticket:1", "webhook", "helpdesk_ticket", local(NY, "2026-05-08 21:30"), {}),
        # Transactional (a reply to her own review): quiet hours do not hold it.
        Sent(f"{J}:1:{u}:we_hear_you_email:1", "email", "postpurchase_we_hear_you", local(NY, "2026-05-08 21:30"),
             EMAIL),
    ]
    assert ("branch", "rating?", "detractor") in sc.story(J, u)
    ticket = sc.rendered[f"{J}:1:{u}:support_ticket:1"]
    assert (ticket["method"], ticket["url"]) == ("POST", "https://helpdesk.example.com/api/v2/tickets")
    assert json.loads(ticket["body"]) == {"ticket": {
        "subject": "Low rating on order #10981",
        "requester": {"email": "mia@example.com", "external_id": u},
        "priority": "high",
        "tags": ["low-rating", "post-purchase"],
        "comment": {"body": "Customer rated 1 out of 5."},
        "external_id": f"{J}:1:{u}:support_ticket:1",
    }}
    note = sc.action(f"{J}:1:{u}:we_hear_you_email:1")
    assert (note.priority.value, note.category) == ("transactional", "service")


def test_a_neutral_rating_gets_a_thank_you_in_app() -> None:
    u = pick_user("p", J)
    sc = run([delivered(u, "2026-05-04 14:20"), reviewed(u, "2026-05-09 12:00", 3)],
             until=local(NY, "2026-05-25 00:00"))
    assert sc.sent(u)[-1] == Sent(f"{J}:1:{u}:thanks_inapp:1", "in_app", "postpurchase_thanks_inapp",
                                  local(NY, "2026-05-09 12:00"), {})
    assert ("branch", "rating?", "default") in sc.story(J, u)


def test_a_night_delivery_skips_the_stale_push_and_no_review_brings_one_reminder() -> None:
    u = pick_user("p", J)
    sc = run([delivered(u, "2026-05-04 22:20")], until=local(NY, "2026-05-25 00:00"))
    assert sc.sent(u) == [
        # 22:20 is in quiet hours, and this journey skips rather than defers: no push at all.
        Sent(f"{J}:1:{u}:review_email:1", "email", "postpurchase_review_request", local(NY, "2026-05-08 10:00"),
             EMAIL),
        Sent(f"{J}:1:{u}:review_reminder_push:1", "push", "postpurchase_review_push", local(NY, "2026-05-12 10:00"),
             PUSH),
    ]
    assert sc.story(J, u) == [
        ("entered", "delivered_push", None),
        ("suppressed", "delivered_push", "quiet_hours"),
        ("branch", "already_reviewed?", "default"),
        ("branch", "reviewed?", "on_timeout"),
        ("exited", "done", "completed"),
    ]
    assert "reviews_submitted" not in sc.profile(u)


def test_a_review_before_the_request_skips_the_request() -> None:
    u = pick_user("p", J)
    sc = run(
        [delivered(u, "2026-05-04 14:20"), reviewed(u, "2026-05-06 08:15", 4)],
        until=local(NY, "2026-05-25 00:00"),
    )
    assert [(s.template, s.ts) for s in sc.sent(u)] == [
        ("postpurchase_delivered_push", local(NY, "2026-05-04 14:20")),
        ("postpurchase_share_review", local(NY, "2026-05-08 11:00")),
    ]
    assert sc.story(J, u) == [
        ("entered", "delivered_push", None),
        ("converted", "settle_in", "reviewed"),
        ("branch", "already_reviewed?", "already_reviewed"),
        ("branch", "rating?", "promoter"),
        ("exited", "done", "completed"),
    ]
    assert sc.profile(u)["reviews_submitted"] == 1


def test_a_bounced_request_falls_back_to_sms_only_with_an_sms_opt_in() -> None:
    opted, not_opted = pick_user("p", J), pick_user("q", J)
    traits = {**MIA, "phone": "+15550103"}
    events = [
        ev(opted, "consent.updated", local(NY, "2026-04-01 10:00"), traits=traits, tz=NY,
           props={"channel": "sms", "category": "marketing", "status": "opted_in"}),
    ]
    for u in (opted, not_opted):
        events += [
            delivered(u, "2026-05-04 14:20", traits=traits),
            ev(u, "message.bounced", local(NY, "2026-05-08 10:01"), props={"action_id": f"{J}:1:{u}:review_email:1"}),
        ]
    events.sort(key=lambda e: e.ts)
    sc = run(events, until=local(NY, "2026-05-09 00:00"))
    assert sc.sent(opted)[-1] == Sent(f"{J}:1:{opted}:review_email~fb:1", "sms", "postpurchase_review_sms",
                                      local(NY, "2026-05-08 10:01"), {"phone": "+15550103"})
    assert [s.template for s in sc.sent(not_opted)] == ["postpurchase_delivered_push", "postpurchase_review_request"]
    assert sc.story(J, not_opted)[-1] == ("suppressed", "review_email", "consent")


def test_a_refund_ends_the_journey_and_a_second_delivery_within_30_days_does_not_restart_it() -> None:
    refunded, repeat = pick_user("p", J), pick_user("r", J)
    sc = run(
        [
            delivered(refunded, "2026-05-04 14:20"),
            ev(refunded, "order.refunded", local(NY, "2026-05-06 09:00"), props={"order_id": "o-981"}),
            delivered(repeat, "2026-05-04 14:20"),
            delivered(repeat, "2026-05-20 14:20", order_id="o-990", order_number="#10990"),
            delivered(repeat, "2026-06-05 14:20", order_id="o-995", order_number="#10995"),
        ],
        until=local(NY, "2026-06-06 00:00"),
    )
    assert [s.template for s in sc.sent(refunded)] == ["postpurchase_delivered_push"]
    assert sc.story(J, refunded)[-1] == ("exited", "settle_in", "exit_on")
    assert [(o.entry, o.ts) for o in sc.outcomes(J, repeat) if o.kind.value == "entered"] == [
        (1, local(NY, "2026-05-04 14:20")),
        (2, local(NY, "2026-06-05 14:20")),
    ]
    assert sc.text(f"{J}:1:{repeat}:delivered_push:2", "data.deeplink") == "example://orders/o-995"
