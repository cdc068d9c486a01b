import json
from datetime import timedelta
from pathlib import Path
from typing import Literal

import pytest

from jobs.compiler import CompiledPlan, JourneyStatus, compile_plan, explain_plan
from jobs.errors import ValidationFailed
from jobs.spec import ActionNode, Journey, register_node_kind
from jobs.spec.nodes import unregister_node_kind
from jobs.validation import load_bundle

pytestmark = pytest.mark.unit

DATA = Path(__file__).parent / "data" / "valid"


@pytest.fixture(scope="module")
def bundle():
    return load_bundle([DATA / "cart.yaml", DATA / "templates"])


@pytest.fixture(scope="module")
def cart(bundle) -> Journey:
    return bundle.journeys[0]


def variant(journey: Journey, **changes) -> Journey:
    data = journey.model_dump(mode="json", by_alias=True)
    data.update(changes)
    return Journey.model_validate(data)


def test_cart_plan(bundle, cart):
    plan = compile_plan(bundle.journeys, bundle.templates)
    assert plan.event_types == [
        "cart.updated",
        "consent.updated",
        "identify",
        "message.bounced",
        "message.failed",
        "message.opened",
        "message.unsubscribed",
        "order.completed",
        "user.churned",
        "user.deleted",
    ]
    assert [(c.event_type, c.windows, c.retention) for c in plan.counters] == [
        ("order.completed", [timedelta(hours=1)], timedelta(hours=1))
    ]
    assert [(e.journey_id, e.version) for e in plan.dispatch["cart.updated"].entries] == [("cart-abandonment", 1)]
    assert [(w.journey_id, w.node_id) for w in plan.dispatch["message.opened"].waits] == [
        ("cart-abandonment", "opened?")
    ]
    goal = plan.dispatch["order.completed"]
    assert goal.counted and [(g.name, g.exit) for g in goal.goals] == [("order.completed", True)]
    assert [x.journey_id for x in plan.dispatch["user.churned"].exits] == ["cart-abandonment"]
    assert plan.dispatch["user.deleted"].reserved
    assert set(plan.templates) == {"cart_reminder", "cart_sms", "cart_push"}
    assert plan.journey("cart-abandonment") == cart
    assert plan.journeys[0].status is JourneyStatus.ACTIVE


def test_plan_is_deterministic_and_round_trips(bundle, cart):
    other = variant(cart, id="another", entry={"segment": "vip"})
    one = compile_plan([cart, other], bundle.templates)
    two = compile_plan([other, cart], dict(reversed(bundle.templates.items())))
    assert one.model_dump_json() == two.model_dump_json()
    assert len(one.fingerprint) == 64
    again = CompiledPlan.model_validate_json(one.model_dump_json())
    assert again == one
    assert json.loads(again.model_dump_json()) == json.loads(one.model_dump_json())


def test_versions_newest_takes_entries_older_kept_for_users_inside(cart):
    v2 = variant(cart, version=2, goals=[{"event": "checkout.done"}])
    plan = compile_plan([v2, cart])
    assert [(j.version, j.status) for j in plan.journeys] == [(1, JourneyStatus.RETIRED), (2, JourneyStatus.ACTIVE)]
    assert [(e.journey_id, e.version) for e in plan.dispatch["cart.updated"].entries] == [("cart-abandonment", 2)]
    # Users still in v1 keep its goals and waits.
    assert [(g.version) for g in plan.dispatch["order.completed"].goals] == [1]
    assert [(g.version) for g in plan.dispatch["checkout.done"].goals] == [2]
    assert [w.version for w in plan.dispatch["message.opened"].waits] == [1, 2]
    assert plan.journey("cart-abandonment").version == 2
    assert plan.journey("cart-abandonment", 1).version == 1


def test_paused_journey_takes_no_entries(cart):
    plan = compile_plan([cart], paused=["cart-abandonment"])
    assert plan.journeys[0].status is JourneyStatus.PAUSED
    assert "cart.updated" not in plan.event_types
    assert plan.dispatch["message.opened"].waits  # users inside still wait


def test_counters_share_one_store_per_type(cart):
    other = variant(
        cart,
        id="other",
        nodes={
            **cart.model_dump(mode="json", by_alias=True)["nodes"],
            "still_in_cart": {
                "type": "branch",
                "cases": [
                    {"when": {"field": "counters.order.completed.1d", "op": "eq", "value": 0}, "next": "email_1"},
                    {"when": {"field": "counters.order.completed.1h", "op": "gt", "value": 2}, "next": "done"},
                ],
                "default": "done",
            },
        },
    )
    plan = compile_plan([cart, other])
    (counter,) = plan.counters
    assert counter.windows == [timedelta(hours=1), timedelta(days=1)]
    assert counter.retention == timedelta(days=1)
    assert plan.counter_windows() == {"order.completed": [timedelta(hours=1), timedelta(days=1)]}


def test_entry_kinds_route_through_reserved_types(cart):
    seg = variant(cart, id="seg", entry={"segment": "vip"})
    api = variant(cart, id="api", entry={"api": True})
    sched = variant(cart, id="sched", entry={"schedule": {"at": "09:00"}})
    plan = compile_plan([seg, api, sched])
    assert [(e.journey_id, e.segment) for e in plan.dispatch["segment.entered"].entries] == [("seg", "vip")]
    assert [(e.journey_id, e.api) for e in plan.dispatch["journey.triggered"].entries] == [("api", True)]
    assert [r.journey_id for r in plan.scheduled] == ["sched"]


def test_duplicate_versions_and_missing_templates_fail(cart):
    with pytest.raises(ValidationFailed, match="given twice"):
        compile_plan([cart, cart])
    with pytest.raises(ValidationFailed, match="'cart_reminder' is used but was not given"):
        compile_plan([cart], {})


def test_explain_is_readable(bundle):
    text = explain_plan(compile_plan(bundle.journeys, bundle.templates))
    assert "cart-abandonment v1 [active]" in text
    assert "message.opened: ends wait cart-abandonment v1/opened?" in text
    assert "order.completed: windows 1h; keep 1h" in text
    assert "sms_1: sms cart_sms (marketing, marketing), fallback push cart_push within 1d -> morning" in text


class Crm(ActionNode):
    """A plugin action kind."""

    type: Literal["crm_add"]
    list_id: str


def test_plugin_nodes_survive_the_plan(cart):
    register_node_kind(Crm)
    try:
        nodes = cart.model_dump(mode="json", by_alias=True)["nodes"]
        nodes["tag"] = {"type": "crm_add", "list_id": "L", "next": "done"}
        plan = compile_plan([variant(cart, nodes=nodes)])
        again = CompiledPlan.model_validate_json(plan.model_dump_json())
        assert isinstance(again.journey("cart-abandonment").nodes["tag"], Crm)
        assert "tag: crm_add action on crm_add -> done" in explain_plan(plan)
    finally:
        unregister_node_kind("crm_add")
