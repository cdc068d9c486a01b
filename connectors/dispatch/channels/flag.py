"""Feature flags per user in Redis: `feature_flag` nodes set `journeys:flags:<user_id>[flag] = value`.

Values are stored as JSON (`true`, `"variant-b"`, `3`), so apps read back the type they wrote.
A write is idempotent; with `dispatch.flag.ttl_s`, a user's flags expire that long after the last
change.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

import redis

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
from jobs.settings import FlagSettings
from jobs.spec.records import DeliveryStatus


def read_flags(client: redis.Redis, user_id: str) -> dict[str, Any]:
    """A user's flags and their values."""
    return {name: json.loads(value) for name, value in client.hgetall(keys.flags(user_id)).items()}


class FlagAdapter(ChannelAdapter):
    """Sets one flag per action."""

    def __init__(self, client: redis.Redis, settings: FlagSettings) -> None:
        self.client = client
        self.settings = settings

    def deliver(self, message: OutgoingMessage, commit: Commit) -> DeliveryResult:
        params = message.action.params
        flag = params.get("flag")
        if not isinstance(flag, str) or not flag:
            raise PermanentDeliveryError("flag action without a flag name")
        value = json.dumps(params.get("value", True))
        key = keys.flags(message.action.user_id)
        commit()
        try:
            with self.client.pipeline(transaction=True) as pipe:
                pipe.hset(key, flag, value)
                if self.settings.ttl_s:
                    pipe.expire(key, self.settings.ttl_s)
                pipe.execute()
        except redis.RedisError as exc:
            raise TransientDeliveryError(f"flag: redis error ({type(exc).__name__})") from None
        return DeliveryResult(status=DeliveryStatus.DELIVERED, detail=f"{flag}={value}")

    def close(self) -> None:
        self.client.close()


class FlagPlugin(ChannelPlugin):
    """Per-user feature flags in Redis (`dispatch.flag`)."""

    name: ClassVar[str] = "flag"
    checks_consent: ClassVar[bool] = False
    description: ClassVar[str] = "per-user feature flags in Redis"
    idempotent: ClassVar[bool] = True

    def create_adapter(self, context: AdapterContext) -> ChannelAdapter:
        return FlagAdapter(context.redis(), context.settings.dispatch.flag)
