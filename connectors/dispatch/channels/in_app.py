"""The in-app inbox: per-user messages in Redis, bounded in number and kept for a while.

Storage (see `keys.py`): a sorted set of message ids scored by creation time and a hash of
id -> message JSON, both expiring `dispatch.in_app.ttl_s` after the last message. A write is
idempotent (the message id is the `action_id`), and keeps the newest `max_messages`. The API
reads the inbox with `read_inbox` and marks messages seen with `mark_seen`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import ClassVar

import redis
from pydantic import BaseModel, ConfigDict, Field

from connectors.dispatch import keys
from connectors.dispatch.plugin import (
    AdapterContext,
    ChannelAdapter,
    ChannelPlugin,
    Commit,
    DeliveryResult,
    OutgoingMessage,
)
from connectors.errors import PermanentDeliveryError, TransientDeliveryError
from jobs.settings import InAppSettings
from jobs.spec.durations import AwareDatetime
from jobs.spec.records import DeliveryStatus
from jobs.spec.template import Cta, InAppTemplate

# KEYS: ids (zset), messages (hash); ARGV: id, score, json, max, ttl_s. Returns 1 if new.
PUT = """
local added = redis.call('ZADD', KEYS[1], 'NX', ARGV[2], ARGV[1])
if added == 1 then redis.call('HSET', KEYS[2], ARGV[1], ARGV[3]) end
local n = redis.call('ZCARD', KEYS[1])
local max = tonumber(ARGV[4])
if n > max then
  local old = redis.call('ZRANGE', KEYS[1], 0, n - max - 1)
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, n - max - 1)
  redis.call('HDEL', KEYS[2], unpack(old))
end
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('EXPIRE', KEYS[2], ARGV[5])
return added
"""


class InboxMessage(BaseModel):
    """One message in a user's in-app inbox."""

    model_config = ConfigDict(frozen=True)

    id: str
    user_id: str
    journey_id: str
    node_id: str
    title: str
    body: str
    cta: Cta | None = None
    category: str = "marketing"
    created_at: AwareDatetime
    seen_at: AwareDatetime | None = None
    data: dict[str, str] = Field(default_factory=dict)


def put_message(client: redis.Redis, message: InboxMessage, settings: InAppSettings) -> bool:
    """Store a message (idempotent); True if it was new."""
    score = int(message.created_at.timestamp() * 1000)
    added = client.eval(
        PUT,
        2,
        keys.inbox(message.user_id),
        keys.inbox_messages(message.user_id),
        message.id,
        score,
        message.model_dump_json(),
        settings.max_messages,
        settings.ttl_s,
    )
    return bool(added)


def read_inbox(client: redis.Redis, user_id: str, limit: int = 50, *, unseen_only: bool = False) -> list[InboxMessage]:
    """A user's messages, newest first."""
    ids = client.zrevrange(keys.inbox(user_id), 0, max(limit, 1) * (4 if unseen_only else 1) - 1)
    if not ids:
        return []
    raw = client.hmget(keys.inbox_messages(user_id), ids)
    messages = [InboxMessage.model_validate_json(r) for r in raw if r]
    if unseen_only:
        messages = [m for m in messages if m.seen_at is None]
    return messages[:limit]


def mark_seen(client: redis.Redis, user_id: str, message_id: str, when: datetime | None = None) -> bool:
    """Mark one message seen; False if the user has no such message."""
    raw = client.hget(keys.inbox_messages(user_id), message_id)
    if raw is None:
        return False
    message = InboxMessage.model_validate_json(raw)
    if message.seen_at is None:
        seen = message.model_copy(update={"seen_at": when or datetime.now(UTC)})
        client.hset(keys.inbox_messages(user_id), message_id, seen.model_dump_json())
    return True


class InboxAdapter(ChannelAdapter):
    """Writes rendered in-app messages to the user's inbox."""

    def __init__(self, client: redis.Redis, settings: InAppSettings) -> None:
        self.client = client
        self.settings = settings

    def deliver(self, message: OutgoingMessage, commit: Commit) -> DeliveryResult:
        content = message.content
        if content is None:
            raise PermanentDeliveryError("in_app needs a template with title and body")
        action = message.action
        cta_fields = content.group("cta")
        cta = Cta(label=cta_fields["label"], url=cta_fields["url"]) if {"label", "url"} <= cta_fields.keys() else None
        item = InboxMessage(
            id=action.action_id,
            user_id=action.user_id,
            journey_id=action.journey_id,
            node_id=action.node_id,
            title=content.get("title") or "",
            body=content.get("body") or "",
            cta=cta,
            category=action.category,
            # The journey's time for the message (the event time its node ran at): replays and
            # parallel senders keep the inbox in the journey's order.
            created_at=action.ts,
        )
        commit()
        try:
            put_message(self.client, item, self.settings)
        except redis.RedisError as exc:
            raise TransientDeliveryError(f"in_app: redis error ({type(exc).__name__})") from None
        return DeliveryResult(status=DeliveryStatus.DELIVERED, provider_id=action.action_id)

    def close(self) -> None:
        self.client.close()


class InAppPlugin(ChannelPlugin):
    """The in-app inbox in Redis (`dispatch.in_app`)."""

    name: ClassVar[str] = "in_app"
    description: ClassVar[str] = "in-app inbox in Redis"
    template_model = InAppTemplate
    idempotent: ClassVar[bool] = True

    def create_adapter(self, context: AdapterContext) -> ChannelAdapter:
        return InboxAdapter(context.redis(), context.settings.dispatch.in_app)
