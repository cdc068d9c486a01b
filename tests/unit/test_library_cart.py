"""Library journey `cart-abandonment`: reminder email (SMS fallback), then discount test or push nudge."""

from __future__ import annotations

import pytest
from library_support import Sent, days, delivery, ev, local, pick_user, run

pytestmark = pytest.mark.unit

J = "cart-abandonment"
NY = "America/New_York"
ADA = {"email": "ada@example.com", "first_name": "Ada", "push_token": "tok-ada"}
EMAIL, PUSH = {"email": "ada@example.com"}, {"push_token": "tok-ada"}


def cart(value: float, count: int = 2) -> dict:
    products = [{"name": "Linen shirt", "price": 49.5, "image_url": "https://cdn.example.com/shirt.jpg"},
                {"name": "Canvas tote", "price": 36.0}]
    return {"cart_value": value, "item_count": count, "currency": "$",
            "cart_url": "https://shop.example.com/cart/abc", "products": products[:count]}


def abandoned(user: str, when: str, value: float = 85.5, traits: dict | None = None, count: int = 2) -> object:
    return ev(user, "cart.updated", local(NY, when), props=cart(value, count), traits=ADA if traits is None else traits,
              tz=NY)


def test_an_abandoned_cart_gets_an_email_after_an_hour_and_a_push_a_day_later() -> None:
    u = pick_user("c", J)
    sc = run([abandoned(u, "2026-05-04 10:00")], until=local(NY, "2026-05-10 00:00"))
    assert sc.sent(u) == [
        Sent(f"{J}:1:{u}:reminder_email:1", "email", "cart_reminder_email", local(NY, "2026-05-04 11:00"), EMAIL),
        Sent(f"{J}:1:{u}:nudge_push:1", "push", "cart_nudge_push", local(NY, "2026-05-05 11:00"), PUSH),
    ]
    assert sc.story(J, u) == [
        ("entered", "wait_1h", None),
        ("branch", "clicked?", "on_timeout"),
        ("branch", "big_cart?", "default"),
        ("exited", "done", "completed"),  # after the two-day attribution window, Thursday 11:00
    ]
    assert sc.outcomes(J, u)[-1].ts == local(NY, "2026-05-07 11:00")
    text = sc.text(f"{J}:1:{u}:reminder_email:1", "text")
    assert "- Linen shirt: $49.50\n- Canvas tote: $36.00\n\nTotal: $85.50" in text
    assert sc.text(f"{J}:1:{u}:nudge_push:1", "body") == "Linen shirt and 1 more is waiting for you, Ada."
    email = sc.action(f"{J}:1:{u}:reminder_email:1")
    assert (email.fallback, email.category, email.vars["event"]["cart_value"]) == ("sms", "marketing", 85.5)


def test_a_purchase_an_hour_after_the_email_converts_and_stops_the_push() -> None:
    u = pick_user("c", J)
    sc = run(
        [abandoned(u, "2026-05-04 10:00"),
         ev(u, "order.completed", local(NY, "2026-05-04 12:05"), props={"order_id": "o-1", "total": 85.5})],
        until=local(NY, "2026-05-10 00:00"),
    )
    assert [s.action_id for s in sc.sent(u)] == [f"{J}:1:{u}:reminder_email:1"]
    assert sc.story(J, u) == [
        ("entered", "wait_1h", None),
        ("converted", "clicked?", "purchased"),
        ("exited", "clicked?", "goal"),
    ]


def test_the_holdout_gets_nothing_but_its_purchases_still_count() -> None:
    u = pick_user("c", J, holdout=True)
    sc = run(
        [abandoned(u, "2026-05-04 10:00"), ev(u, "order.completed", local(NY, "2026-05-06 09:00"))],
        until=local(NY, "2026-05-10 00:00"),
    )
    assert sc.sent(u) == []
    assert sc.story(J, u) == [
        ("entered", "wait_1h", "holdout"),
        ("suppressed", "reminder_email", "holdout"),
        ("branch", "clicked?", "on_timeout"),
        ("branch", "big_cart?", "default"),
        ("suppressed", "nudge_push", "holdout"),
        ("converted", "attribution_window", "purchased"),
        ("exited", "attribution_window", "goal"),
    ]


def test_a_late_evening_cart_waits_for_the_morning_and_a_bounce_falls_back_to_sms() -> None:
    u = pick_user("c", J)
    no_app = {"email": "ada@example.com", "first_name": "Ada", "phone": "+15550101"}
    sc = run(
        [
            # She opted in to marketing texts at checkout a month ago (SMS marketing needs an opt-in).
            ev(u, "consent.updated", local(NY, "2026-04-04 10:00"),
               props={"channel": "sms", "category": "marketing", "status": "opted_in"}, traits=no_app, tz=NY),
            abandoned(u, "2026-05-04 20:30", traits={}),
            ev(u, "message.bounced", local(NY, "2026-05-05 08:02"),
               props={"action_id": f"{J}:1:{u}:reminder_email:1", "reason": "mailbox full"}),
        ],
        until=local(NY, "2026-05-10 00:00"),
    )
    sms = {"phone": "+15550101"}
    assert sc.sent(u) == [
        # Due at 21:30, in quiet hours (21:00-08:00): held until 08:00.
        Sent(f"{J}:1:{u}:reminder_email:1", "email", "cart_reminder_email", local(NY, "2026-05-05 08:00"), EMAIL),
        # Bounced two minutes later: the SMS fallback goes at once.
        Sent(f"{J}:1:{u}:reminder_email~fb:1", "sms", "cart_reminder_sms", local(NY, "2026-05-05 08:02"), sms),
        # No app (no push token): the push node falls back to SMS right away.
        Sent(f"{J}:1:{u}:nudge_push~fb:1", "sms", "cart_reminder_sms", local(NY, "2026-05-06 08:00"), sms),
    ]
    assert sc.story(J, u) == [
        ("entered", "wait_1h", None),
        ("node", "reminder_email", "deferred:quiet_hours until 2026-05-05T12:00:00+00:00"),
        ("branch", "clicked?", "on_timeout"),
        ("branch", "big_cart?", "default"),
        ("suppressed", "nudge_push", "no_address"),
        ("exited", "done", "completed"),
    ]
    assert sc.text(f"{J}:1:{u}:reminder_email~fb:1", "body") == (
        "Example: your cart ($85.50) is saved. Finish your order: https://shop.example.com/cart/abc "
        "Reply STOP to opt out."
    )


def test_without_an_sms_opt_in_a_bounce_has_nowhere_to_go() -> None:
    u = pick_user("c", J)
    traits = {**ADA, "phone": "+15550101"}
    sc = run(
        [abandoned(u, "2026-05-04 10:00", traits=traits),
         ev(u, "message.bounced", local(NY, "2026-05-04 11:01"), props={"action_id": f"{J}:1:{u}:reminder_email:1"})],
        until=local(NY, "2026-05-04 12:00"),
    )
    assert [s.action_id for s in sc.sent(u)] == [f"{J}:1:{u}:reminder_email:1"]
    assert sc.story(J, u) == [("entered", "wait_1h", None), ("suppressed", "reminder_email", "consent")]
    assert sc.outcomes(J, u)[-1].action_id == f"{J}:1:{u}:reminder_email~fb:1"


def test_a_big_cart_in_the_discount_arm_gets_the_code_and_converts() -> None:
    u = pick_user("c", J, variants={"incentive_test": "discount"})
    sc = run(
        [abandoned(u, "2026-05-04 10:00", value=180.0),
         ev(u, "order.completed", local(NY, "2026-05-06 09:00"), props={"order_id": "o-2", "total": 162.0})],
        until=local(NY, "2026-05-10 00:00"),
    )
    assert sc.sent(u) == [
        Sent(f"{J}:1:{u}:reminder_email:1", "email", "cart_reminder_email", local(NY, "2026-05-04 11:00"), EMAIL),
        Sent(f"{J}:1:{u}:discount_email:1", "email", "cart_discount_email", local(NY, "2026-05-05 11:00"), EMAIL),
    ]
    assert sc.story(J, u) == [
        ("entered", "wait_1h", None),
        ("branch", "clicked?", "on_timeout"),
        ("branch", "big_cart?", "big_cart"),
        ("split", "incentive_test", "discount"),
        ("converted", "attribution_window", "purchased"),
        ("exited", "attribution_window", "goal"),
    ]
    assert "Use code COMEBACK10 at checkout." in sc.text(f"{J}:1:{u}:discount_email:1", "text")


def test_a_big_cart_in_the_control_arm_gets_the_push_without_a_discount() -> None:
    u = pick_user("c", J, variants={"incentive_test": "no_discount"})
    sc = run([abandoned(u, "2026-05-04 10:00", value=180.0)], until=local(NY, "2026-05-10 00:00"))
    assert [s.template for s in sc.sent(u)] == ["cart_reminder_email", "cart_nudge_push"]
    assert ("split", "incentive_test", "no_discount") in sc.story(J, u)


def test_a_click_on_the_email_ends_the_nudges_but_keeps_the_attribution_window() -> None:
    u = pick_user("c", J)
    email = Sent(f"{J}:1:{u}:reminder_email:1", "email", "cart_reminder_email", local(NY, "2026-05-04 11:00"), EMAIL)
    sc = run(
        [abandoned(u, "2026-05-04 10:00"), delivery(email, "clicked", local(NY, "2026-05-04 12:00"))],
        until=local(NY, "2026-05-10 00:00"),
    )
    assert sc.sent(u) == [email]
    assert sc.story(J, u) == [
        ("entered", "wait_1h", None),
        ("branch", "clicked?", "on_event"),
        ("exited", "done", "completed"),
    ]
    assert sc.outcomes(J, u)[-1].ts == local(NY, "2026-05-06 12:00")


def test_emptying_the_cart_leaves_the_journey() -> None:
    u = pick_user("c", J)
    sc = run(
        [abandoned(u, "2026-05-04 10:00"),
         ev(u, "cart.updated", local(NY, "2026-05-04 10:40"), props={"cart_value": 0, "item_count": 0})],
        until=local(NY, "2026-05-10 00:00"),
    )
    assert sc.sent(u) == []
    assert sc.story(J, u) == [("entered", "wait_1h", None), ("exited", "wait_1h", "exit_on")]


def test_small_carts_do_not_enter() -> None:
    u = pick_user("c", J)
    sc = run([abandoned(u, "2026-05-04 10:00", value=12.0, count=1)], until=local(NY, "2026-05-10 00:00"))
    assert sc.journeys_entered(u) == [] and sc.sent(u) == []


def test_a_serial_abandoner_gets_at_most_three_nudges_in_any_seven_days() -> None:
    u = pick_user("d", J)
    sc = run(
        [
            abandoned(u, "2026-05-04 10:00", value=60.0),
            # Re-entry needs the last instance over and 3 days since its entry.
            abandoned(u, "2026-05-07 12:00", value=60.0),
            abandoned(u, "2026-05-10 14:00", value=60.0),
        ],
        until=local(NY, "2026-05-16 00:00"),
    )
    assert sc.sent(u) == [
        Sent(f"{J}:1:{u}:reminder_email:1", "email", "cart_reminder_email", local(NY, "2026-05-04 11:00"), EMAIL),
        Sent(f"{J}:1:{u}:nudge_push:1", "push", "cart_nudge_push", local(NY, "2026-05-05 11:00"), PUSH),
        Sent(f"{J}:1:{u}:reminder_email:2", "email", "cart_reminder_email", local(NY, "2026-05-07 13:00"), EMAIL),
        # Friday's push would be the fourth in 7 days (capped); so would Sunday's email. Monday's push
        # is fine again: the 4 May email is just over 7 days old.
        Sent(f"{J}:1:{u}:nudge_push:3", "push", "cart_nudge_push", local(NY, "2026-05-11 15:00"), PUSH),
    ]
    suppressed = [(o.node_id, o.detail, o.entry, o.ts) for o in sc.outcomes(J, u) if o.kind.value == "suppressed"]
    assert suppressed == [
        ("nudge_push", "cap", 2, local(NY, "2026-05-08 13:00")),
        ("reminder_email", "cap", 3, local(NY, "2026-05-10 15:00")),
    ]
    assert [o.entry for o in sc.outcomes(J, u) if o.kind.value == "entered"] == [1, 2, 3]
    # The third instance ends after its 1 h wait, the day waiting for a click and the 2-day window.
    assert sc.outcomes(J, u)[-1].ts == local(NY, "2026-05-10 14:00") + days(3) + (days(1) / 24)
