import json
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from jobs.spec.records import (
    ActionRecord,
    DeliveryRecord,
    Event,
    OutcomeKind,
    OutcomeRecord,
    SuppressionReason,
    make_action_id,
    parse_action_id,
)

pytestmark = pytest.mark.unit

EVENT = {
    "event_id": "01J",
    "type": "cart.updated",
    "user_id": "u42",
    "ts": "2026-11-22T10:00:00Z",
    "props": {"cart_value": 80},
    "context": {"tz": "Europe/Paris", "locale": "fr-FR", "device": "ios", "ip": "1.2.3.4"},
    "traits": {"email": "a@b.c", "plan": "pro"},
}


def test_event_from_the_design_round_trips():
    event = Event.from_json(json.dumps(EVENT))
    assert event.ts == datetime(2026, 11, 22, 10, tzinfo=UTC)
    assert event.context.tz == "Europe/Paris"
    assert event.context.model_extra == {"ip": "1.2.3.4"}
    assert json.loads(event.to_json()) == EVENT
    assert Event.from_json(event.to_json()) == event


def test_event_rejects_naive_time():
    with pytest.raises(ValidationError, match="has no timezone"):
        Event.model_validate({**EVENT, "ts": "2026-11-22T10:00:00"})


def test_event_offsets_are_normalized_to_utc():
    event = Event.model_validate({**EVENT, "ts": "2026-11-22T11:00:00+01:00"})
    assert event.to_dict()["ts"] == "2026-11-22T10:00:00Z"


def test_action_record_from_the_design():
    action = ActionRecord(
        action_id=make_action_id("cart-abandonment", 3, "u42", "email_1", 2),
        journey_id="cart-abandonment",
        version=3,
        node_id="email_1",
        user_id="u42",
        channel="email",
        template="cart_reminder",
        category="marketing",
        priority="marketing",
        vars={"profile": {"first_name": "Ada"}, "event": {"cart_value": 80}},
        to={"email": "a@b.c"},
        fallback="sms",
        trigger_event_id="01J",
        ts="2026-11-22T11:00:00Z",
        emitted_at=datetime(2026, 11, 22, 11, 0, 1, tzinfo=UTC),
    )
    assert action.action_id == "cart-abandonment:3:u42:email_1:2"
    assert ActionRecord.from_json(action.to_json()) == action


def test_action_id_parses_even_with_colons_in_user_id():
    action_id = make_action_id("j", 2, "tenant:u:7", "n", 5)
    assert parse_action_id(action_id) == ("j", 2, "tenant:u:7", "n", 5)


def test_outcome_suppressed_needs_a_known_reason():
    base = {
        "journey_id": "j",
        "version": 1,
        "user_id": "u",
        "node_id": "email_1",
        "kind": "suppressed",
        "ts": "2026-11-22T10:00:00Z",
        "emitted_at": "2026-11-22T10:00:01Z",
    }
    for reason in SuppressionReason:
        assert OutcomeRecord.model_validate({**base, "detail": reason}).detail == reason
    with pytest.raises(ValidationError, match="reason"):
        OutcomeRecord.model_validate({**base, "detail": "bored"})
    assert {k.value for k in OutcomeKind} == {
        "entered",
        "node",
        "branch",
        "split",
        "action",
        "suppressed",
        "converted",
        "exited",
        "error",
    }


def test_delivery_record():
    record = DeliveryRecord(
        action_id="a", channel="email", status="bounced", attempt=2, error="550", ts="2026-11-22T10:00:00Z"
    )
    assert DeliveryRecord.from_json(record.to_json()) == record
    with pytest.raises(ValidationError):
        DeliveryRecord(action_id="a", channel="email", status="lost", ts="2026-11-22T10:00:00Z")
