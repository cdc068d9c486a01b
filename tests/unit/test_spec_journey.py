from datetime import time, timedelta
from pathlib import Path
from typing import Literal

import pytest
from pydantic import ValidationError

from jobs.spec import (
    ActionNode,
    BranchNode,
    Journey,
    MessageNode,
    SplitNode,
    WaitForNode,
    WaitNode,
    WaitUntilNode,
    Weekday,
    node_kinds,
    parse_node,
    register_node_kind,
)
from jobs.spec.loader import load_journey
from jobs.spec.nodes import WAIT_KINDS, unregister_node_kind
from jobs.spec.records import JOURNEY_TRIGGERED  # noqa: F401 — reserved type exists

pytestmark = pytest.mark.unit

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def cart() -> Journey:
    return load_journey(DATA / "valid" / "cart.yaml")


def minimal(**overrides):
    data = {
        "id": "j",
        "name": "J",
        "entry": {"event": "signed_up"},
        "start": "w",
        "nodes": {"w": {"type": "wait", "duration": "1h", "next": "done"}, "done": {"type": "exit"}},
    }
    data.update(overrides)
    return data


def test_cart_journey_loads_as_in_the_design(cart):
    assert cart.id == "cart-abandonment"
    assert cart.tz == "America/New_York"
    assert cart.entry.event == "cart.updated"
    assert cart.entry.trigger == "event"
    assert cart.entry.reentry.policy == "after"
    assert cart.entry.reentry.cooldown == timedelta(days=7)
    assert cart.goals[0].event == "order.completed" and cart.goals[0].exit
    assert cart.holdout.percent == 10
    assert cart.caps[0].channel == "any" and cart.caps[0].max == 3 and cart.caps[0].per == timedelta(days=1)
    assert cart.quiet_hours.start == time(21) and cart.quiet_hours.end == time(8)
    assert list(cart.nodes) == [
        "wait_1h",
        "still_in_cart",
        "email_1",
        "opened?",
        "ab",
        "sms_1",
        "push_1",
        "morning",
        "tag",
        "done",
    ]
    assert isinstance(cart.nodes["wait_1h"], WaitNode)
    assert isinstance(cart.nodes["still_in_cart"], BranchNode)
    assert isinstance(cart.nodes["opened?"], WaitForNode)
    assert cart.nodes["opened?"].match == {"node": "email_1"}
    assert isinstance(cart.nodes["ab"], SplitNode)
    sms = cart.nodes["sms_1"]
    assert isinstance(sms, MessageNode) and sms.fallback.channel == "push"
    assert sms.fallback_window == timedelta(days=1)
    assert sms.category == "marketing" and sms.priority == "marketing"
    morning = cart.nodes["morning"]
    assert isinstance(morning, WaitUntilNode) and morning.days[0] is Weekday.MON
    assert [c.event_type for c in cart.counters()] == ["order.completed"]


def test_journey_round_trips_through_json(cart):
    again = Journey.model_validate_json(cart.model_dump_json())
    assert again == cart
    dumped = cart.model_dump(mode="json", exclude_none=True)
    assert dumped["quiet_hours"] == {"from": "21:00", "to": "08:00", "tz": "user", "mode": "defer"}
    assert dumped["nodes"]["wait_1h"] == {"type": "wait", "duration": "1h", "next": "still_in_cart"}


def test_journey_is_frozen(cart):
    with pytest.raises(ValidationError):
        cart.name = "x"


def test_edges_name_every_successor(cart):
    assert cart.nodes["opened?"].edges() == [("on_event", "done"), ("on_timeout", "ab")]
    assert cart.nodes["ab"].successors() == ["sms_1", "push_1"]
    assert cart.nodes["still_in_cart"].successors() == ["email_1", "done"]
    assert cart.nodes["done"].edges() == []
    assert {"wait", "wait_until", "wait_for"} == WAIT_KINDS


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        ({"tz": "Mars/Olympus"}, "unknown timezone"),
        ({"entry": {}}, "exactly one of event, segment, schedule, api"),
        ({"entry": {"event": "a", "segment": "b"}}, "found event and segment"),
        ({"entry": {"event": "a", "reentry": {"policy": "after"}}}, "needs a cooldown"),
        ({"entry": {"event": "a", "reentry": {"policy": "never", "cooldown": "1d"}}}, "only applies"),
        ({"holdout": {"percent": 100}}, "less than 100"),
        ({"quiet_hours": {"from": "21:00", "to": "21:00"}}, "must differ"),
        ({"caps": [{"channel": "fax", "max": 1, "per": "1d"}]}, "channel"),
        ({"id": "a:b"}, "pattern"),
        ({"nodes": {}}, "at least 1"),
        ({"colour": "red"}, "Extra inputs"),
    ],
)
def test_journey_level_errors(overrides, needle):
    with pytest.raises(ValidationError, match=needle):
        Journey.model_validate(minimal(**overrides))


def test_other_entry_triggers():
    seg = Journey.model_validate(minimal(entry={"segment": "vip"}))
    assert seg.entry.trigger == "segment"
    sched = Journey.model_validate(minimal(entry={"schedule": {"at": "09:00", "days": ["mon"]}}))
    assert sched.entry.trigger == "schedule" and sched.entry.schedule.at == time(9)
    api = Journey.model_validate(minimal(entry={"api": True}))
    assert api.entry.trigger == "api"


def test_null_lists_mean_none():
    assert Journey.model_validate(minimal(goals=None)).goals == []


@pytest.mark.parametrize(
    ("node", "needle"),
    [
        ({"type": "wait", "duration": "1h", "next": "x", "duraton": "1h"}, "Extra inputs"),
        ({"type": "wait", "duration": "0s", "next": "x"}, "longer than zero"),
        ({"type": "teleport", "next": "x"}, "does not match any of the expected tags"),
        ({"type": "split", "variants": [{"name": "a", "weight": 0, "next": "x"}]}, "greater than 0"),
        (
            {
                "type": "split",
                "variants": [
                    {"name": "a", "weight": 1, "next": "x"},
                    {"name": "a", "weight": 1, "next": "y"},
                ],
            },
            "unique",
        ),
        ({"type": "message", "channel": "fax", "template": "t", "next": "x"}, "channel"),
        ({"type": "webhook", "next": "x"}, "exactly one of 'template' or 'url'"),
        ({"type": "update_profile", "next": "x"}, "at least one"),
        ({"type": "wait_until", "at": "7pm", "next": "x"}, "time of day"),
        ({"type": "branch", "cases": [], "default": "x"}, "at least 1"),
        ({"type": "exit", "next": "x"}, "Extra inputs"),
    ],
)
def test_node_errors(node, needle):
    with pytest.raises(ValidationError, match=needle):
        parse_node(node)


def test_message_category_defaults_to_priority():
    node = parse_node(
        {"type": "message", "channel": "email", "template": "t", "priority": "transactional", "next": "x"}
    )
    assert node.category == "transactional"


class CrmSync(ActionNode):
    """A plugin action kind: push the user to a CRM list."""

    type: Literal["crm_sync"]
    list_id: str


def test_plugin_node_kind_parses_dumps_and_shows_in_schema():
    register_node_kind(CrmSync)
    try:
        assert node_kinds()["crm_sync"] is CrmSync
        journey = Journey.model_validate(
            minimal(
                start="c",
                nodes={"c": {"type": "crm_sync", "list_id": "L1", "next": "d"}, "d": {"type": "exit"}},
            )
        )
        node = journey.nodes["c"]
        assert isinstance(node, CrmSync)
        assert node.action_channel() == "crm_sync"
        assert node.action_params() == {"list_id": "L1"}
        assert journey.model_dump(mode="json")["nodes"]["c"] == {
            "type": "crm_sync",
            "list_id": "L1",
            "next": "d",
        }
        assert "CrmSync" in Journey.model_json_schema()["$defs"]
        with pytest.raises(ValidationError, match="Extra inputs"):
            parse_node({"type": "crm_sync", "list_id": "L1", "next": "d", "lst": 1})
        with pytest.raises(ValueError, match="already registered"):

            class Other(ActionNode):
                type: Literal["crm_sync"]

            register_node_kind(Other)
    finally:
        unregister_node_kind("crm_sync")
    assert "crm_sync" not in node_kinds()
    with pytest.raises(ValidationError):
        parse_node({"type": "crm_sync", "list_id": "L1", "next": "d"})


def test_register_rejects_non_literal_type():
    class Loose(ActionNode):
        type: str

    with pytest.raises(TypeError, match="Literal"):
        register_node_kind(Loose)
