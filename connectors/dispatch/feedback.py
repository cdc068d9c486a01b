"""Closing the loop: delivery results become `message.*` events the journeys react to.

A delivery with status `delivered`, `bounced`, `failed`, `opened`, `clicked` or `unsubscribed`
becomes an event of type `message.<status>` for the same user, with `props.action_id`,
`props.journey_id` and `props.node_id` (what `wait_for` nodes and channel fallback match on), plus
the channel, attempt, provider id and error. Its `event_id` is derived from the action and the
status, so re-publishing it after a crash changes nothing (the job ignores repeated event ids).
`sent`, `retrying`, `suppressed` and `duplicate` stay in `deliveries` only.
"""

from __future__ import annotations

from jobs.spec.records import ActionRecord, DeliveryRecord, DeliveryStatus, Event

FEEDBACK_TYPES: dict[DeliveryStatus, str] = {
    DeliveryStatus.DELIVERED: "message.delivered",
    DeliveryStatus.BOUNCED: "message.bounced",
    DeliveryStatus.FAILED: "message.failed",
    DeliveryStatus.OPENED: "message.opened",
    DeliveryStatus.CLICKED: "message.clicked",
    DeliveryStatus.UNSUBSCRIBED: "message.unsubscribed",
}


def feedback_event_id(action_id: str, status: DeliveryStatus) -> str:
    """The deterministic id of the feedback event of `action_id` reaching `status`."""
    return f"delivery:{action_id}:{status.value}"


def feedback_event(delivery: DeliveryRecord, action: ActionRecord | None = None) -> Event | None:
    """The `message.*` event for a delivery record, or None if its status is not fed back."""
    event_type = FEEDBACK_TYPES.get(delivery.status)
    if event_type is None:
        return None
    user_id = delivery.user_id or (action.user_id if action else None)
    if not user_id:
        return None
    props: dict[str, object] = {
        "action_id": delivery.action_id,
        "journey_id": delivery.journey_id or (action.journey_id if action else None),
        "node_id": delivery.node_id or (action.node_id if action else None),
        "channel": delivery.channel,
        "attempt": delivery.attempt,
    }
    if action is not None:
        props["version"] = action.version
        props["template"] = action.template
    if delivery.provider_id:
        props["provider_id"] = delivery.provider_id
    if delivery.error:
        props["error"] = delivery.error
    return Event(
        event_id=feedback_event_id(delivery.action_id, delivery.status),
        type=event_type,
        user_id=user_id,
        ts=delivery.ts,
        props={k: v for k, v in props.items() if v is not None},
    )
