from datetime import timedelta

import pytest
from pydantic import TypeAdapter, ValidationError

from jobs.spec.conditions import (
    AllOf,
    AnyOf,
    Condition,
    CounterRef,
    Leaf,
    NotOf,
    Op,
    counters_in,
    format_condition,
    parse_field_path,
)

pytestmark = pytest.mark.unit

adapter = TypeAdapter(Condition)


def test_counter_path_splits_type_and_window():
    path = parse_field_path("counters.order.completed.1h")
    assert path.root == "counters"
    assert path.counter == CounterRef(event_type="order.completed", window=timedelta(hours=1))
    assert str(path) == "counters.order.completed.1h"


@pytest.mark.parametrize(
    ("text", "root", "rest"),
    [
        ("event.props.cart_value", "event", ("props", "cart_value")),
        ("profile.plan", "profile", ("plan",)),
        ("journey.entry", "journey", ("entry",)),
        ("event.type", "event", ("type",)),
    ],
)
def test_field_paths(text, root, rest):
    path = parse_field_path(text)
    assert (path.root, path.path, path.counter) == (root, rest, None)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("evnt.props.x", "did you mean 'event'"),
        ("counters.order.completed", "must be a window"),
        ("counters.1h", "counters.<event type>.<window>"),
        ("event.cart_value", "event properties live under event.props"),
        ("profile", "needs a field"),
        ("profile..x", "empty segment"),
    ],
)
def test_bad_field_paths(text, needle):
    with pytest.raises(ValueError, match=needle):
        parse_field_path(text)


def test_nested_tree_parses_and_round_trips():
    data = {
        "all": [
            {"field": "counters.order.completed.1h", "op": "eq", "value": 0},
            {
                "any": [
                    {"not": {"field": "profile.plan", "op": "in", "value": ["free"]}},
                    {"field": "profile.vip", "op": "exists"},
                ]
            },
        ]
    }
    cond = adapter.validate_python(data)
    assert isinstance(cond, AllOf)
    assert isinstance(cond.all[1], AnyOf)
    assert isinstance(cond.all[1].any[0], NotOf)
    assert [leaf.op for leaf in cond.leaves()] == [Op.EQ, Op.IN, Op.EXISTS]
    assert adapter.dump_python(cond, mode="json", exclude_none=True) == {
        "all": [
            {"field": "counters.order.completed.1h", "op": "eq", "value": 0},
            {
                "any": [
                    {"not": {"field": "profile.plan", "op": "in", "value": ["free"]}},
                    {"field": "profile.vip", "op": "exists"},
                ]
            },
        ]
    }
    assert counters_in(cond) == [CounterRef(event_type="order.completed", window=timedelta(hours=1))]
    assert "count(order.completed in 1h) eq 0" in format_condition(cond)


@pytest.mark.parametrize(
    "data",
    [
        {"field": "profile.plan", "op": "in", "value": "free"},
        {"field": "profile.plan", "op": "exists", "value": 1},
        {"field": "profile.plan", "op": "eq"},
        {"field": "profile.plan", "op": "like", "value": 1},
        {"field": "profile.plan", "op": "eq", "value": 1, "extra": 2},
        {"all": [], "any": []},
        "profile.plan == 1",
    ],
)
def test_bad_conditions(data):
    with pytest.raises(ValidationError):
        adapter.validate_python(data)


def test_leaf_is_frozen():
    leaf = Leaf(field="profile.plan", op="eq", value="pro")
    with pytest.raises(ValidationError):
        leaf.op = Op.NE
