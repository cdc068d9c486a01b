"""Signed unsubscribe tokens for email links and `List-Unsubscribe` (one-click, RFC 8058).

A token names the user, channel and category and is signed with `dispatch.unsubscribe_secret`
(HMAC-SHA256), so the API can honour it without a lookup and nobody can forge one for another user.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

from pydantic import BaseModel, ConfigDict

from connectors.errors import DispatchError


class UnsubscribeScope(BaseModel):
    """What an unsubscribe token opts out of."""

    model_config = ConfigDict(frozen=True)

    user_id: str
    channel: str
    category: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def make_token(secret: str, scope: UnsubscribeScope) -> str:
    """A URL-safe signed token for `scope`."""
    payload = _b64(json.dumps([scope.user_id, scope.channel, scope.category], separators=(",", ":")).encode())
    signature = _b64(hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()[:18])
    return f"{payload}.{signature}"


def verify_token(secret: str, token: str) -> UnsubscribeScope:
    """The scope of a token; raises DispatchError if it is malformed or not signed with `secret`."""
    try:
        payload, signature = token.split(".", 1)
        expected = _b64(hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()[:18])
        if not hmac.compare_digest(signature, expected):
            raise ValueError("bad signature")
        user_id, channel, category = json.loads(_unb64(payload))
    except (ValueError, TypeError) as exc:
        raise DispatchError(f"invalid unsubscribe token: {exc}") from None
    return UnsubscribeScope(user_id=user_id, channel=channel, category=category)
