"""Events and comparisons shared by the Flink-tier tests of the journey job."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

T0 = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
CART = Path("tests/unit/data/valid/cart.yaml")
TEMPLATES = Path("tests/unit/data/valid/templates")


def cart_events(users: int, seed: int = 1) -> list[dict[str, Any]]:
    """A time-ordered mix for the cart journey: identities, carts, some orders, opens and bounces."""
    rng = random.Random(seed)
    events: list[dict[str, Any]] = []
    for u in range(users):
        user = f"u{u}"
        start = T0 + timedelta(seconds=rng.randrange(0, 3600))
        traits = {"email": f"{user}@example.com", "first_name": f"User{u}"}
        if rng.random() < 0.7:
            traits["phone"] = f"+1555{u:07d}"
        if rng.random() < 0.5:
            traits["push_token"] = f"tok-{u}"
        tz = rng.choice(["Europe/Paris", "America/New_York", "Asia/Tokyo", None])
        events.append(
            {"event_id": f"id-{u}", "type": "identify", "user_id": user, "ts": _iso(start), "traits": traits}
            | ({"context": {"tz": tz}} if tz else {})
        )
        cart_at = start + timedelta(minutes=1)
        events.append(
            {
                "event_id": f"cart-{u}",
                "type": "cart.updated",
                "user_id": user,
                "ts": _iso(cart_at),
                "props": {"cart_value": rng.choice([10, 25, 80, 140])},
            }
        )
        roll = rng.random()
        if roll < 0.25:
            events.append({"event_id": f"order-{u}", "type": "order.completed", "user_id": user,
                           "ts": _iso(cart_at + timedelta(minutes=rng.randrange(5, 300)))})
        elif roll < 0.45:
            events.append({"event_id": f"open-{u}", "type": "message.opened", "user_id": user,
                           "ts": _iso(cart_at + timedelta(hours=2)),
                           "props": {"action_id": f"cart-abandonment:1:{user}:email_1:1",
                                     "journey_id": "cart-abandonment", "node_id": "email_1"}})
        elif roll < 0.55:
            events.append({"event_id": f"consent-{u}", "type": "consent.updated", "user_id": user,
                           "ts": _iso(cart_at + timedelta(minutes=10)),
                           "props": {"channel": "email", "category": "marketing", "status": "opted_out"}})
        view = {"event_id": f"view-{u}", "type": "page.viewed", "user_id": user, "ts": _iso(cart_at)}
        if u % 4 == 0:
            # No journey reads page views, but their traits still update the profile the templates use.
            view["traits"] = {"first_name": f"Renamed{u}"}
        events.append(view)
    events.sort(key=lambda e: e["ts"])
    return events


def write_events(path: Path, events: list[dict[str, Any]], extra_lines: list[str] = ()) -> Path:
    """Write events as JSON lines (plus raw extra lines, e.g. malformed input)."""
    path.write_text("".join(json.dumps(e) + "\n" for e in events) + "".join(line + "\n" for line in extra_lines))
    return path


def comparable(records: list[dict[str, Any]]) -> list[str]:
    """Records without the wall-clock field, as sorted canonical JSON (a multiset)."""
    return sorted(json.dumps({k: v for k, v in r.items() if k != "emitted_at"}, sort_keys=True) for r in records)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def _iso(ts: datetime) -> str:
    return ts.isoformat().replace("+00:00", "Z")
