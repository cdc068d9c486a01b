"""What the library's journeys needed and the language or the renderer cannot do yet.

Each test states the behaviour a lifecycle marketer expects and is marked `xfail(strict=True)`:
it fails today (documenting the gap) and turns the suite red the day the gap closes, so whoever
closes it removes the marker and the library's workaround. The workarounds in use are noted in
the journeys' headers.
"""

from __future__ import annotations

import pytest
from library_support import ev, local, pick_user, run

from connectors.dispatch.render import RenderContext, TemplateRenderer
from jobs.errors import ValidationFailed
from jobs.spec.loader import journey_from_yaml, template_from_yaml
from operators.core import Interpreter
from operators.core.replay import replay

pytestmark = pytest.mark.unit

NY = "America/New_York"


@pytest.mark.xfail(strict=True, reason="a branch sees the entry event, never the event that resolved a wait_for")
def test_a_branch_after_a_wait_for_can_read_the_event_that_resolved_it() -> None:
    # post-purchase-feedback wants to route on the review's rating. Workaround there: the shop
    # sends the rating as a trait too (`last_review_rating`) and the branch reads the profile.
    j = journey_from_yaml("""
        id: rating
        name: Route on the review's rating
        entry: {event: order.delivered}
        start: reviewed
        nodes:
          reviewed: {type: wait_for, event: review.submitted, timeout: 7d, on_event: rating, on_timeout: done}
          rating:
            type: branch
            cases: [{name: promoter, when: {field: event.props.rating, op: gte, value: 4}, next: done}]
            default: done
          done: {type: exit}
    """)
    t0 = local(NY, "2026-05-04 10:00")
    result = replay(
        Interpreter([j], strict=True),
        [ev("u", "order.delivered", t0), ev("u", "review.submitted", local(NY, "2026-05-05 10:00"), {"rating": 5})],
        until=local(NY, "2026-05-06 00:00"),
    )
    assert ("rating", "promoter") in [(o.node_id, o.detail) for o in result.outcomes if o.kind.value == "branch"]


@pytest.mark.xfail(strict=True, reason="wait_for `match` compares with constants only, not with the entry event")
def test_a_wait_for_only_resolves_on_the_event_about_the_same_order() -> None:
    # post-purchase-feedback waits for "a review"; with two orders in flight, the review of one
    # resolves the wait of the other. There is no way to say "review.submitted whose order_id is
    # this instance's order_id" (Braze: canvas entry properties in filters; Iterable: match on
    # trigger fields). The journey's 30-day re-entry cooldown keeps one survey in flight.
    u = pick_user("gap", "post-purchase-feedback")
    order = {"order_id": "o-1", "order_number": "#1", "products": [{"name": "Mug"}]}
    sc = run(
        [
            ev(u, "order.delivered", local(NY, "2026-05-04 14:00"), props=order,
               traits={"email": "g@example.com"}, tz=NY),
            # A review of an older order, on the day the request for o-1 goes out.
            ev(u, "review.submitted", local(NY, "2026-05-08 12:00"), props={"order_id": "o-0", "rating": 2},
               traits={"last_review_rating": 2}),
        ],
        until=local(NY, "2026-05-20 00:00"),
    )
    assert ("branch", "reviewed?", "on_event") not in sc.story("post-purchase-feedback", u)


@pytest.mark.xfail(strict=True, raises=ValidationFailed, reason="no wait relative to a date carried by the event")
def test_a_wait_can_end_a_number_of_days_before_a_date_in_the_event() -> None:
    # renewal-reminder wants "7 days before renews_on, at 10:00". Workaround there: billing
    # announces every renewal exactly 30 days ahead and the journey counts days from the entry.
    journey_from_yaml("""
        id: renewal
        name: Seven days before the renewal date
        entry: {event: subscription.renewal_upcoming}
        start: t7
        nodes:
          t7: {type: wait_until, date: event.props.renews_on, offset: -7d, at: "10:00", next: done}
          done: {type: exit}
    """)


@pytest.mark.xfail(strict=True, reason="quiet hours hold every channel, even the in-app inbox the user pulls")
def test_quiet_hours_do_not_hold_an_in_app_inbox_message() -> None:
    # post-purchase-feedback skips messages in quiet hours; its neutral-rating "thanks" lands in
    # the in-app inbox, which notifies nobody, yet a review at 21:30 loses it. Quiet hours cannot be
    # limited to interruptive channels (push, SMS, email), nor set per node.
    u = pick_user("gap", "post-purchase-feedback")
    order = {"order_id": "o-1", "order_number": "#1", "products": [{"name": "Mug"}]}
    sc = run(
        [
            ev(u, "order.delivered", local(NY, "2026-05-04 14:00"), props=order,
               traits={"email": "g@example.com"}, tz=NY),
            ev(u, "review.submitted", local(NY, "2026-05-08 21:30"), props={"order_id": "o-1", "rating": 3},
               traits={"last_review_rating": 3}),
        ],
        until=local(NY, "2026-05-20 00:00"),
    )
    assert [s.template for s in sc.sent(u)][-1] == "postpurchase_thanks_inapp"


def test_a_template_can_loop_over_an_event_property_named_items() -> None:
    # Cart and order payloads often carry `items`: the renderer prefers the data's keys over the
    # mapping's methods, so `{% for item in event.items %}` loops over the items (it was a gap).
    template = template_from_yaml("""
        id: cart
        channel: sms
        body: "{% for item in event.items %}{{ item.name }} {% endfor %}"
    """)
    context = RenderContext(event={"items": [{"name": "Mug"}, {"name": "Tote"}]})
    assert TemplateRenderer().render(template, context).fields["body"] == "Mug Tote "
