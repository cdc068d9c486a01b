"""Redis key names shared by the dispatchers and the API (one place, so both sides agree).

| key | type | holds |
| --- | --- | --- |
| `journeys:dedupe:<action_id>` | string | the send state of one action (see `dedupe.py`), with a TTL |
| `journeys:consent:<user_id>` | hash | `<channel>:<category>` (or `*` for either) -> `opted_in` / `opted_out` |
| `journeys:suppress:users` | set | user ids never to contact (global suppression list, erased users) |
| `journeys:suppress:addresses` | set | sha256 of normalised addresses never to contact (hard bounces, complaints) |
| `journeys:inbox:<user_id>` | sorted set | in-app message ids, scored by creation time (ms) |
| `journeys:inbox:<user_id>:messages` | hash | in-app message id -> message JSON |
| `journeys:flags:<user_id>` | hash | flag name -> JSON value |
| `journeys:ratelimit:<topic prefix><channel>` | string | the channel's token bucket (theoretical arrival time, µs) |
"""

from __future__ import annotations

import hashlib

import redis

from jobs.settings import Settings

PREFIX = "journeys"
SUPPRESSED_USERS = f"{PREFIX}:suppress:users"
SUPPRESSED_ADDRESSES = f"{PREFIX}:suppress:addresses"


def dedupe(action_id: str) -> str:
    """The send state of an action."""
    return f"{PREFIX}:dedupe:{action_id}"


def consent(user_id: str) -> str:
    """A user's consent choices."""
    return f"{PREFIX}:consent:{user_id}"


def inbox(user_id: str) -> str:
    """A user's in-app inbox (ids by time)."""
    return f"{PREFIX}:inbox:{user_id}"


def inbox_messages(user_id: str) -> str:
    """A user's in-app messages (id -> JSON)."""
    return f"{PREFIX}:inbox:{user_id}:messages"


def flags(user_id: str) -> str:
    """A user's feature flags."""
    return f"{PREFIX}:flags:{user_id}"


def rate_limit(channel: str, namespace: str = "") -> str:
    """A channel's shared token bucket; `namespace` (the topic prefix) separates installations
    sharing one Redis, as it separates their topics."""
    return f"{PREFIX}:ratelimit:{namespace}{channel}"


def address_digest(address: str) -> str:
    """How an address is stored in the suppression set: sha256 of its trimmed, lower-cased form."""
    return hashlib.sha256(address.strip().lower().encode()).hexdigest()


def redis_client(settings: Settings, *, single_connection: bool = False) -> redis.Redis:
    """A Redis client for the configured server (bytes replies decoded as UTF-8).

    `single_connection` clients are for pipelined use (commands written before earlier replies
    are read): they never send health-check PINGs, whose replies would be read out of turn.
    """
    r = settings.redis
    return redis.Redis(
        host=r.host,
        port=r.port,
        db=r.db,
        password=r.password.get_secret_value() if r.password else None,
        decode_responses=True,
        socket_timeout=10,
        socket_connect_timeout=5,
        health_check_interval=0 if single_connection else 30,
        single_connection_client=single_connection,
    )
