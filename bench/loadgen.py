"""Load generator: realistic synthetic users and events for the ready journey library.

    .venv/bin/python -m bench.loadgen --users 10000 --events 200000 --out events.jsonl
    .venv/bin/python -m bench.loadgen --events 500000 --kafka events --producers 2 [--rate 5000]

Users are fixed by the seed: an id, a timezone for most (IANA, in `context.tz` and the `tz`
trait), a first name, and an email, phone and push token for most. Each user's first event
carries their traits: `identify` for existing users, `user.signed_up`, `lead.created` or
`trial.started` for the ones who arrive during the run. After that, scenarios start one after
another on users picked with a long-tailed activity: browsing sessions (`session.started`,
logins, page and product views, pricing visits), shopping (growing carts, orders, deliveries a
day or two later, reviews, refunds, returns, emptied carts), trials (projects, teammates,
upgrades, cancellations), renewals announced by billing, B2B leads (pricing visits, demo
requests), churn-risk segment entries (CSM calls, exits), profile updates, consent changes, and
the message feedback of what the library journeys send (`message.delivered|opened|clicked|
bounced` with the action ids those journeys give, so `wait_for`s and fallbacks match).
Every type and prop is the one a library journey's header says it expects.

Event time is the slot's position: event `i` of `events` is stamped `start + i * span / events`,
so the stream is in time order; a scenario's later steps (an order delivered two days after it
was placed) wait in a heap until their time comes and are dropped if it falls after the span.

`relevant_share` fixes the share of events whose type some library journey reacts to
(`RELEVANT_TYPES`): the scenarios then emit only relevant events and filler events of types no
journey reads (`page.viewed`, `product.viewed`, logins, searches, deliveries of messages...)
make up the rest, exactly. Without it the mix is the scenarios' own (about a third relevant).

Fast by templating: per-user JSON fragments are built once, props come from pools drawn at
start, timestamps are formatted once per second; a stream is deterministic for a seed and
configuration whatever the consumer.
"""

from __future__ import annotations

import argparse
import heapq
import json
import multiprocessing as mp
import os
import queue
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

# Event types some library journey reacts to (its compiled plan's `event_types`; checked by
# tests/unit/test_bench_loadgen.py against jobs/library).
RELEVANT_TYPES: frozenset[str] = frozenset(
    {
        "account.closed", "cart.updated", "consent.updated", "csm.call_logged", "demo.requested", "identify",
        "lead.created", "lead.disqualified", "message.bounced", "message.clicked", "message.failed",
        "message.opened", "message.unsubscribed", "onboarding.completed", "order.completed", "order.delivered",
        "order.refunded", "order.returned", "pricing.viewed", "project.created", "review.submitted",
        "segment.entered", "segment.exited", "session.started", "subscription.canceled",
        "subscription.renewal_upcoming", "subscription.renewed", "subscription.started", "teammate.invited",
        "trial.canceled", "trial.started", "user.deleted", "user.signed_up",
    }
)

ZONES = (
    "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles", "America/Sao_Paulo",
    "Europe/London", "Europe/Paris", "Europe/Berlin", "Asia/Kolkata", "Asia/Tokyo", "Australia/Sydney",
)
LOCALES = {
    "America/Sao_Paulo": "pt-BR", "Europe/Paris": "fr-FR", "Europe/Berlin": "de-DE", "Asia/Tokyo": "ja-JP",
    "Europe/London": "en-GB", "Asia/Kolkata": "en-IN", "Australia/Sydney": "en-AU",
}
DEVICES = ("ios", "android", "web", "web")
FIRST_NAMES = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia", "Tim", "Margaret",
               "Linus", "Hedy", "John", "Katherine", "Guido")
COMPANIES = ("Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Wonka", "Tyrell", "Cyberdyne")
TITLES = ("CTO", "Head of Data", "VP Marketing", "Operations Manager", "Analyst", "Founder")
PRODUCTS = ("Trail shoes", "Rain jacket", "Wool socks", "Daypack", "Water bottle", "Headlamp", "Fleece",
            "Sunglasses", "Camp mug", "Beanie", "Gloves", "Tent")
PAGES = ("/", "/search", "/deals", "/category/shoes", "/category/bags", "/account", "/help", "/blog", "/new")

HOUR = 3_600_000
DAY = 24 * HOUR

# Scenarios and their weights in the natural mix (each a method `_s_<name>` of `LoadGenerator`).
SCENARIOS: dict[str, float] = {
    "browse": 38, "shop": 26, "trial": 7, "lead": 4, "renewal": 3, "churn": 2, "profile": 5, "consent": 3,
    "review": 2, "close": 0.15, "erase": 0.02,
}
# Filler events of types no library journey reads, with their weights.
FILLERS: dict[str, float] = {
    "page.viewed": 48, "product.viewed": 24, "user.logged_in": 8, "search.performed": 8, "message.delivered": 5,
    "product.added_to_wishlist": 3, "app.backgrounded": 4,
}


@dataclass(frozen=True)
class LoadConfig:
    """What to generate. `relevant_share` None keeps the scenarios' own mix; `span` is the event
    time the `events` cover from `start`."""

    users: int = 10_000
    events: int = 100_000
    seed: int = 7
    start: datetime = field(default_factory=lambda: datetime(2026, 11, 2, tzinfo=UTC))
    span: timedelta = timedelta(days=1)
    relevant_share: float | None = None
    scenarios: dict[str, float] = field(default_factory=lambda: dict(SCENARIOS))
    new_user_share: float = 0.15  # of users, arrive during the run (sign up, lead form, trial)

    def __post_init__(self) -> None:
        if self.users < 1 or self.events < 0:
            raise ValueError("users must be >= 1 and events >= 0")
        if self.relevant_share is not None and not 0.0 < self.relevant_share <= 1.0:
            raise ValueError("relevant_share must be in (0, 1]")
        unknown = set(self.scenarios) - set(SCENARIOS)
        if unknown:
            raise ValueError(f"unknown scenarios {sorted(unknown)}; known: {sorted(SCENARIOS)}")


try:
    import orjson

    def _dumps(value: Any) -> str:
        return orjson.dumps(value).decode()
except ImportError:  # pragma: no cover - orjson comes with the project's dependencies

    def _dumps(value: Any) -> str:
        return json.dumps(value, separators=(",", ":"))


def _iso_date(ms: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(ms // 1000))


# A step of a scenario: (delay ms after the scenario's start, type, props JSON, traits JSON or "").
Step = tuple[int, str, str, str]


class LoadGenerator:
    """One deterministic stream of events (see the module docstring). Iterate `records()`."""

    def __init__(self, config: LoadConfig) -> None:
        self.config = config
        rng = self.rng = random.Random(config.seed)
        n = config.users
        # Only relevant events wanted from scenarios: skip building the steps that would be dropped.
        self.lean = config.relevant_share is not None
        self.prefix = f"lg{config.seed:x}-"
        self.uid = [f"u{i:07d}" for i in range(n)]
        # Per user: zone index + 1 (0 = unknown), name, what addresses they have, kind of arrival.
        self.zone = bytes(rng.randrange(1, len(ZONES) + 1) if rng.random() < 0.85 else 0 for _ in range(n))
        self.flags = bytearray(n)  # bit 0 seen, 1 trial, 2 lead, 3 in churn segment, 4 erased
        self.arrival = bytes(self._arrival(rng) for _ in range(n))  # 0 existing, 1 signup, 2 lead, 3 trial
        self._ctx: list[str | None] = [None] * n
        self._traits: list[str | None] = [None] * n
        # Activity: a long tail (a few users do much more than most), drawn from a table.
        table: list[int] = []
        weights = [1.0 / (1 + r) ** 0.8 for r in range(n)]
        rng.shuffle(weights)
        scale = 4 * n / sum(weights)
        for u, w in enumerate(weights):
            table.extend([u] * max(1, round(w * scale)))
        self.table = table
        names = [s for s in config.scenarios if config.scenarios[s] > 0]
        self._pick_scenario = self._chooser([getattr(self, f"_s_{s}") for s in names],
                                            [config.scenarios[s] for s in names])
        self._pick_filler = self._chooser(list(FILLERS), list(FILLERS.values()))
        self._carts = [self._cart(rng) for _ in range(512)]
        self._filler_props = {
            "page.viewed": [_dumps({"path": p, "referrer": r}) for p in PAGES for r in ("", "google", "email")],
            "product.viewed": [_dumps({"product_id": f"p{i}", "name": PRODUCTS[i % len(PRODUCTS)],
                                       "price": 5 + (i * 37) % 300}) for i in range(200)],
            "user.logged_in": [_dumps({"method": m}) for m in ("password", "sso", "magic_link")],
            "search.performed": [_dumps({"query": q}) for q in ("shoes", "jacket", "gift", "tent", "socks")],
            "message.delivered": ['{"channel":"push","journey_id":"newsletter","node_id":"weekly"}'],
            "product.added_to_wishlist": [_dumps({"product_id": f"p{i}"}) for i in range(50)],
            "app.backgrounded": ['{"seconds":42}', '{"seconds":310}'],
        }

    # --- users ------------------------------------------------------------------------------

    def _arrival(self, rng: random.Random) -> int:
        if rng.random() >= self.config.new_user_share:
            return 0
        x = rng.random()
        return 1 if x < 0.6 else (2 if x < 0.8 else 3)

    def context(self, u: int) -> str:
        """The user's `context` JSON (cached)."""
        ctx = self._ctx[u]
        if ctx is None:
            z = self.zone[u]
            device = DEVICES[u % len(DEVICES)]
            if z:
                zone = ZONES[z - 1]
                ctx = _dumps({"tz": zone, "locale": LOCALES.get(zone, "en-US"), "device": device})
            else:
                ctx = _dumps({"device": device})
            self._ctx[u] = ctx
        return ctx

    def traits(self, u: int) -> str:
        """The user's profile traits JSON (cached): email, phone, push token, name, timezone."""
        t = self._traits[u]
        if t is None:
            h = (u * 2654435761) & 0xFFFFFFFF
            d: dict[str, Any] = {"first_name": FIRST_NAMES[h % len(FIRST_NAMES)]}
            if h % 100 < 92:
                d["email"] = f"{self.uid[u]}@example.com"
            if (h >> 8) % 100 < 55:
                d["phone"] = f"+1555{u:07d}"
            if (h >> 16) % 100 < 50:
                d["push_token"] = f"fcm-{h:08x}{u:x}"
            if self.zone[u]:
                d["tz"] = ZONES[self.zone[u] - 1]
            d["plan"] = ("free", "free", "pro", "team")[(h >> 4) % 4]
            t = self._traits[u] = _dumps(d)
        return t

    def _traits_with(self, u: int, extra: dict[str, Any]) -> str:
        return self.traits(u)[:-1] + "," + _dumps(extra)[1:]

    @staticmethod
    def _chooser(items: list, weights: list[float]) -> Callable[[float], Any]:
        """A function from a uniform [0, 1) draw to an item, by weight (a 1024-slot table)."""
        total = sum(weights)
        table: list = []
        for item, w in zip(items, weights, strict=True):
            table.extend([item] * max(1, round(1024 * w / total)))
        size = len(table)
        return lambda x: table[int(x * size)]

    def _cart(self, rng: random.Random) -> tuple[list[str], str, int, str]:
        """A growing cart: the props of each `cart.updated`, the order props, total, delivery props."""
        steps, products, value = [], [], 0
        for _ in range(rng.choice((1, 1, 2, 2, 3, 4))):
            name = rng.choice(PRODUCTS)
            price = rng.choice((9, 15, 19, 25, 35, 49, 79, 120, 189))
            value += price
            products.append({"name": name, "price": price, "image_url": f"https://cdn.example.com/{name[:4]}.jpg"})
            steps.append(_dumps({"cart_value": value, "item_count": len(products), "currency": "USD",
                                 "cart_url": "https://shop.example.com/cart", "products": products}))
        order_no = rng.randrange(10_000, 99_999)
        order = _dumps({"order_id": f"o{order_no}", "total": value, "currency": "USD"})
        delivered = _dumps({"order_id": f"o{order_no}", "order_number": str(order_no), "total": value,
                            "currency": "USD", "products": [{"name": p["name"]} for p in products]})
        return steps, order, value, delivered

    # --- scenarios: each returns its steps (delay, type, props, traits) ---------------------

    def _feedback(self, steps: list[Step], at: int, u: int, journey: str, node: str, channel: str,
                  opened: float, clicked: float, bounce: float = 0.03) -> None:
        """Delivery feedback for the message `journey`/`node` sent at `at` (entry 1, version 1)."""
        r = self.rng.random
        props = (f'{{"action_id":"{journey}:1:{self.uid[u]}:{node}:1","journey_id":"{journey}",'
                 f'"node_id":"{node}","channel":"{channel}"}}')
        if channel != "push" and r() < bounce:
            steps.append((at + 20_000, "message.bounced" if channel == "email" else "message.failed", props, ""))
            return
        delivered = at + 2_000 + int(r() * 60_000)
        if not self.lean:
            steps.append((delivered, "message.delivered", props, ""))
        if r() < opened:
            seen = delivered + 60_000 + int(r() * 4 * HOUR)
            steps.append((seen, "message.opened", props, ""))
            if r() < clicked:
                steps.append((seen + 5_000 + int(r() * 300_000), "message.clicked", props, ""))

    def _first(self, u: int) -> list[Step]:
        """The user's first event: who they are."""
        self.flags[u] |= 1
        kind = self.arrival[u]
        r = self.rng.random
        if kind == 0:
            return [(0, "identify", "{}", self.traits(u))]
        if kind == 1:
            props = _dumps({"signup_source": ("web", "ios", "android", "referral")[int(r() * 4)]})
            steps = [(0, "user.signed_up", props, self.traits(u))]
            self._feedback(steps, 1_000, u, "welcome-series", "welcome_email", "email", 0.6, 0.3)
            if r() < 0.35:
                steps.append((int(r() * DAY), "onboarding.completed", "{}", ""))
            return steps
        if kind == 2:
            self.flags[u] |= 4
            return self._lead_created(u)
        self.flags[u] |= 2
        return self._trial_started(u)

    def _lead_created(self, u: int) -> list[Step]:
        rng = self.rng
        source = rng.choice(("ebook", "webinar", "report"))
        props = _dumps({"source": source, "asset_title": f"The {source} on reporting",
                        "asset_url": f"https://example.com/assets/{source}.pdf", "utm_campaign": "q4-reporting"})
        traits = self._traits_with(u, {"company": rng.choice(COMPANIES), "job_title": rng.choice(TITLES),
                                       "company_size": rng.choice((8, 40, 120, 250, 900))})
        steps = [(0, "lead.created", props, traits)]
        self._feedback(steps, 1_000, u, "lead-nurturing", "asset_email", "email", 0.7, 0.5)
        for _ in range(rng.choice((0, 0, 1, 2, 3))):
            steps.append((HOUR + int(rng.random() * 10 * DAY), "pricing.viewed", '{"path":"/pricing"}', ""))
        x = rng.random()
        if x < 0.05:
            steps.append((int(rng.random() * 14 * DAY), "demo.requested", '{"form":"contact-sales"}', ""))
        elif x < 0.07:
            steps.append((int(rng.random() * 7 * DAY), "lead.disqualified", '{"reason":"student"}', ""))
        return steps

    def _trial_started(self, u: int) -> list[Step]:
        rng = self.rng
        traits = self._traits_with(u, {"company": rng.choice(COMPANIES),
                                       "company_size": rng.choice((2, 5, 12, 60, 300)),
                                       "role": rng.choice(("admin", "member", "owner"))})
        return [(0, "trial.started", "", traits)]  # props filled in at emit time (dates)

    def _s_browse(self, u: int) -> list[Step]:
        r = self.rng.random
        steps: list[Step] = [(0, "session.started", '{"source":"app"}', "")]
        at = 0
        if self.lean:  # only what a journey reads: pricing visits, trial activity
            views = 1 + int(r() * 7)
            if r() < 1 - 0.92**views:
                at = int(r() * views * 50_000)
                steps.append((at, "pricing.viewed", '{"path":"/pricing"}', ""))
            at += int(r() * 3) * 60_000
        else:
            if r() < 0.4:
                steps.append((1_000, "user.logged_in", '{"method":"password"}', ""))
            pages = self._filler_props["page.viewed"]
            for _ in range(1 + int(r() * 7)):
                at += 5_000 + int(r() * 85_000)
                steps.append((at, "page.viewed", pages[int(r() * len(pages))], ""))
                if r() < 0.08:
                    steps.append((at + 500, "pricing.viewed", '{"path":"/pricing"}', ""))
            products = self._filler_props["product.viewed"]
            for _ in range(int(r() * 3)):
                at += 10_000 + int(r() * 110_000)
                steps.append((at, "product.viewed", products[int(r() * len(products))], ""))
        if self.flags[u] & 2:  # a trial user at work
            if r() < 0.4:
                steps.append((at + 30_000, "project.created", _dumps({"project_id": f"pr{int(r() * 1e6)}"}), ""))
            if r() < 0.15:
                steps.append((at + 60_000, "teammate.invited", '{"role":"member"}', ""))
        return steps

    def _s_shop(self, u: int) -> list[Step]:
        r = self.rng.random
        carts, order, total, delivered = self._carts[int(r() * len(self._carts))]
        steps: list[Step] = [(0, "session.started", '{"source":"web"}', "")]
        products = self._filler_props["product.viewed"]
        at = 0
        for _ in range(1 + int(r() * 3)):
            at += 10_000 + int(r() * 60_000)
            if not self.lean:
                steps.append((at, "product.viewed", products[int(r() * len(products))], ""))
        for props in carts:
            at += 20_000 + int(r() * 240_000)
            steps.append((at, "cart.updated", props, ""))
        x = r()
        if x < 0.3:  # ordered within a few hours; delivered a day or two later
            at += 60_000 + int(r() * 3 * HOUR)
            steps.append((at, "order.completed", order, ""))
            if r() < 0.85:
                at += 20 * HOUR + int(r() * 30 * HOUR)
                steps.append((at, "order.delivered", delivered, ""))
                self._feedback(steps, at + 1_000, u, "post-purchase-feedback", "delivered_push", "push", 0.3, 0.0)
                if r() < 0.5:  # the review request three days later
                    ask = at + 3 * DAY + int(r() * DAY)
                    self._feedback(steps, ask, u, "post-purchase-feedback", "review_email", "email", 0.4, 0.4)
                    if r() < 0.35:
                        rating = 1 + int(r() * 5)
                        steps.append((ask + int(r() * 2 * DAY), "review.submitted",
                                      f'{{"order_id":"{json.loads(order)["order_id"]}","rating":{rating}}}',
                                      f'{{"last_review_rating":{rating}}}'))
        elif x < 0.38:  # emptied the cart
            steps.append((at + 60_000 + int(r() * HOUR), "cart.updated",
                          '{"cart_value":0,"item_count":0,"currency":"USD","cart_url":"https://shop.example.com/cart",'
                          '"products":[]}', ""))
        elif total >= 20:  # abandoned: the reminder email an hour later
            self._feedback(steps, at + HOUR + 5_000, u, "cart-abandonment", "reminder_email", "email", 0.35, 0.3)
            if r() < 0.1:
                steps.append((at + 2 * HOUR + int(r() * DAY), "order.completed", order, ""))
        return steps

    def _s_trial(self, u: int) -> list[Step]:
        r = self.rng.random
        if not self.flags[u] & 2:
            self.flags[u] |= 2
            steps = self._trial_started(u)
            self._feedback(steps, 2_000, u, "trial-onboarding", "welcome_inapp", "in_app", 0.0, 0.0)
            return steps
        x = r()
        if x < 0.6:
            return [(0, "project.created", _dumps({"project_id": f"pr{int(r() * 1e6)}"}), "")]
        if x < 0.85:
            return [(0, "teammate.invited", '{"role":"member"}', "")]
        if x < 0.95:
            return [(0, "subscription.started", '{"plan":"team","mrr":99}', "")]
        return [(0, "trial.canceled", '{"reason":"too expensive"}', "")]

    def _s_lead(self, u: int) -> list[Step]:
        if not self.flags[u] & 4:
            self.flags[u] |= 4
            return self._lead_created(u)
        return [(0, "pricing.viewed", '{"path":"/pricing"}', "")]

    def _s_renewal(self, u: int) -> list[Step]:
        rng = self.rng
        traits = self._traits_with(u, {"company": rng.choice(COMPANIES), "card_expiring": rng.random() < 0.2,
                                       "card_last4": f"{rng.randrange(10_000):04d}",
                                       "account_manager": "Sam Lee", "account_manager_email": "sam@example.com"})
        steps: list[Step] = [(0, "subscription.renewal_upcoming", "", traits)]  # props at emit time (dates)
        self._feedback(steps, 2_000, u, "renewal-reminder", "renewal_notice", "email", 0.5, 0.1, bounce=0.05)
        x = rng.random()
        if x < 0.4:
            steps.append((int(rng.random() * 25 * DAY), "subscription.renewed", '{"plan":"pro"}', ""))
        elif x < 0.45:
            steps.append((int(rng.random() * 25 * DAY), "subscription.canceled", '{"reason":"budget"}', ""))
        return steps

    def _s_churn(self, u: int) -> list[Step]:
        rng = self.rng
        if self.flags[u] & 8:
            self.flags[u] &= ~8
            return [(0, "segment.exited", '{"segment":"churn_risk_high"}', "")]
        self.flags[u] |= 8
        traits = self._traits_with(u, {"company": rng.choice(COMPANIES), "mrr": rng.choice((49, 99, 299, 650, 1200)),
                                       "churn_score": round(0.6 + rng.random() * 0.4, 2), "csm_name": "Sam Lee",
                                       "csm_email": "sam@example.com", "last_login_days": rng.randrange(8, 60)})
        steps: list[Step] = [(0, "segment.entered", '{"segment":"churn_risk_high"}', traits)]
        if rng.random() < 0.3:
            steps.append((int(rng.random() * 3 * DAY), "csm.call_logged", '{"outcome":"reached"}', ""))
        self._feedback(steps, 3 * DAY + 10_000, u, "churn-risk", "checkin_email", "email", 0.4, 0.3)
        return steps

    def _s_profile(self, u: int) -> list[Step]:
        r = self.rng.random
        extra = {"plan": ("free", "pro", "team")[int(r() * 3)], "last_app": DEVICES[int(r() * 4)]}
        if r() < 0.3 and self.zone[u]:
            extra["tz"] = ZONES[self.zone[u] - 1]
        return [(0, "identify", "{}", _dumps(extra))]

    def _s_consent(self, u: int) -> list[Step]:
        r = self.rng.random
        channel = ("sms", "sms", "email", "push")[int(r() * 4)]
        status = "opted_in" if channel == "sms" and r() < 0.8 else ("opted_out" if r() < 0.6 else "opted_in")
        return [(0, "consent.updated", _dumps({"channel": channel, "category": "marketing", "status": status}), "")]

    def _s_review(self, u: int) -> list[Step]:
        r = self.rng.random
        x = r()
        order = f"o{10_000 + int(r() * 89_999)}"
        if x < 0.5:
            rating = 1 + int(r() * 5)
            return [(0, "review.submitted", f'{{"order_id":"{order}","rating":{rating}}}',
                     f'{{"last_review_rating":{rating}}}')]
        return [(0, "order.refunded" if x < 0.75 else "order.returned", f'{{"order_id":"{order}"}}', "")]

    def _s_close(self, u: int) -> list[Step]:
        return [(0, "account.closed", '{"reason":"user request"}', "")]

    def _s_erase(self, u: int) -> list[Step]:
        self.flags[u] |= 16
        return [(0, "user.deleted", '{"request_id":"gdpr"}', "")]

    def _dated_props(self, etype: str, ts: int) -> str:
        """Props that name dates relative to the event (renewal and trial end dates)."""
        r = self.rng.random
        if etype == "trial.started":
            return _dumps({"plan": "team", "trial_days": 14, "trial_ends_on": _iso_date(ts + 14 * DAY)})
        interval = "year" if r() < 0.75 else "month"
        return _dumps({"plan": "pro", "interval": interval, "amount": 1188 if interval == "year" else 99,
                       "currency": "USD", "renews_on": _iso_date(ts + 30 * DAY), "auto_renew": r() < 0.6})

    # --- the stream -------------------------------------------------------------------------

    def records(self) -> Iterator[tuple[int, str]]:
        """(user index, event JSON) in time order, `config.events` of them."""
        cfg = self.config
        rng = self.rng
        r = rng.random
        start = int(cfg.start.timestamp() * 1000)
        count = cfg.events
        end = start + int(cfg.span.total_seconds() * 1000)
        step = (end - start) / count if count else 0.0
        share = cfg.relevant_share
        only_relevant = share is not None
        relevant = RELEVANT_TYPES
        heap: list[tuple[int, int, int, str, str, str]] = []
        push, pop = heapq.heappush, heapq.heappop
        table, tsize = self.table, len(self.table)
        flags, uid, context, contexts = self.flags, self.uid, self.context, self._ctx
        pick_scenario, pick_filler, filler_props = self._pick_scenario, self._pick_filler, self._filler_props
        prefix = self.prefix
        seq = 0
        acc = 0.0
        last_sec, sec_text = -1, ""
        for i in range(count):
            t = start + int(i * step)
            if only_relevant:
                acc += share  # type: ignore[operator]
                want_relevant = acc >= 1.0
                if want_relevant:
                    acc -= 1.0
            else:
                want_relevant = True
            if not want_relevant:
                u = table[int(r() * tsize)]
                etype = pick_filler(r())
                pool = filler_props[etype]
                props, traits = pool[int(r() * len(pool))], ""
            elif heap and heap[0][0] <= t:
                _, _, u, etype, props, traits = pop(heap)
            else:
                u = table[int(r() * tsize)]
                while flags[u] & 16:  # erased users come back as new ids in real life; skip them here
                    u = table[int(r() * tsize)]
                steps = self._first(u) if not flags[u] & 1 else pick_scenario(r())(u)
                first = None
                for delay, st, sp, tr in steps:
                    if only_relevant and st not in relevant:
                        continue
                    if first is None and delay == 0:
                        first = (st, sp, tr)
                        continue
                    due = t + delay
                    if due < end:
                        seq += 1
                        push(heap, (due, seq, u, st, sp, tr))
                if first is None:  # every step was dropped or delayed: a filler-free slot still needs an event
                    if heap and heap[0][0] <= t:
                        _, _, u, etype, props, traits = pop(heap)
                    else:
                        etype, props, traits = "session.started", '{"source":"app"}', ""
                else:
                    etype, props, traits = first
            if not props:
                props = self._dated_props(etype, t)
            sec, ms = divmod(t, 1000)
            if sec != last_sec:
                last_sec, sec_text = sec, time.strftime('","ts":"%Y-%m-%dT%H:%M:%S.', time.gmtime(sec))
            ctx = contexts[u] or context(u)
            if traits:
                yield u, (f'{{"event_id":"{prefix}{i}","type":"{etype}","user_id":"{uid[u]}{sec_text}{ms:03d}Z",'
                          f'"props":{props},"context":{ctx},"traits":{traits}}}')
            else:
                yield u, (f'{{"event_id":"{prefix}{i}","type":"{etype}","user_id":"{uid[u]}{sec_text}{ms:03d}Z",'
                          f'"props":{props},"context":{ctx}}}')


def generate(users: int, events: int, seed: int = 7, start: datetime | None = None,
             span: timedelta = timedelta(days=1), relevant_share: float | None = None) -> Iterator[str]:
    """Event JSON strings (no newline), in time order; see `LoadConfig`."""
    config = LoadConfig(users=users, events=events, seed=seed, span=span, relevant_share=relevant_share,
                        **({"start": start} if start is not None else {}))
    for _, line in LoadGenerator(config).records():
        yield line


def write_file(config: LoadConfig, path: Path) -> dict[str, Any]:
    """Write the stream as JSON lines; returns counts and the rate."""
    t0 = time.perf_counter()
    n = 0
    with path.open("w", buffering=1 << 20) as f:
        buf: list[str] = []
        for _, line in LoadGenerator(config).records():
            buf.append(line)
            if len(buf) == 8192:
                f.write("\n".join(buf))
                f.write("\n")
                n += len(buf)
                buf.clear()
        if buf:
            f.write("\n".join(buf))
            f.write("\n")
            n += len(buf)
    seconds = time.perf_counter() - t0
    return {"events": n, "seconds": seconds, "events_per_s": n / seconds if seconds else 0.0,
            "bytes": path.stat().st_size}


# --- Kafka --------------------------------------------------------------------------------------


ROOT = Path(__file__).resolve().parent.parent
KAFKA_JARS = ROOT / "flink-conf" / "jars" / "kafka"
JAVA_SRC = ROOT / "bench" / "java" / "KafkaPerf.java"


@dataclass(frozen=True)
class KafkaTarget:
    """Where and how to produce: topic, pacing (`rate` events/s in all, None = as fast as possible),
    `realtime` stamps each event with its send time (for latency measurements). `client`: `java`
    pipes the stream into the Java producer (`bench/java/KafkaPerf.java`, the broker's own client
    jars: as fast as the broker takes them), `python` sends with kafka-python from `producers`
    processes, `auto` picks Java for unpaced streams when a JDK is there."""

    bootstrap_servers: str
    topic: str
    rate: float | None = None
    realtime: bool = False
    producers: int = 1
    client: str = "auto"


def java_classpath(folder: Path | None = None) -> str:
    """Compile the Java producer into `folder` (once) and return the classpath to run it."""
    folder = folder or Path(tempfile.gettempdir()) / "journeys-kafkaperf"
    compiled = folder / "KafkaPerf.class"
    if not compiled.exists() or compiled.stat().st_mtime < JAVA_SRC.stat().st_mtime:
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run(["javac", "-d", str(folder), "-cp", f"{KAFKA_JARS}/*", str(JAVA_SRC)], check=True,
                       capture_output=True)
    return f"{KAFKA_JARS}/*{os.pathsep}{folder}"


def java_available() -> bool:
    """Whether the Java producer can be built and run here (a JDK and the broker's jars)."""
    return bool(shutil.which("javac") and shutil.which("java") and any(KAFKA_JARS.glob("kafka-clients-*.jar")))


def write_kafka_java(config: LoadConfig, target: KafkaTarget) -> dict[str, Any]:
    """The stream through a pipe into the Java producer (keys and partitions as kafka-python's)."""
    cp = java_classpath()
    t0 = time.perf_counter()
    proc = subprocess.Popen(["java", "-Xmx512m", "-cp", cp, "KafkaPerf", "pipe", target.bootstrap_servers,
                             target.topic], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    buf: list[str] = []
    n = 0
    for _, line in LoadGenerator(config).records():
        buf.append(line)
        if len(buf) == 4096:
            proc.stdin.write(("\n".join(buf) + "\n").encode())
            n += len(buf)
            buf.clear()
    if buf:
        proc.stdin.write(("\n".join(buf) + "\n").encode())
        n += len(buf)
    proc.stdin.close()
    out = proc.stdout.read().decode()
    if proc.wait() != 0:
        raise RuntimeError(f"the Java producer failed (exit {proc.returncode})")
    seconds = time.perf_counter() - t0
    sent = json.loads(out.strip().splitlines()[-1])["records"]
    if sent != n:
        raise RuntimeError(f"the Java producer sent {sent} of {n} events")
    return {"events": n, "seconds": seconds, "events_per_s": n / seconds if seconds else 0.0, "producers": 1,
            "client": "java", "rate_target": None}


def _producer(bootstrap: str) -> Any:
    from kafka import KafkaProducer

    return KafkaProducer(
        bootstrap_servers=bootstrap,
        acks=1,
        linger_ms=20,
        batch_size=512 * 1024,
        max_request_size=8 * 1024 * 1024,
        max_in_flight_requests_per_connection=5,
        compression_type=None,
    )


def _produce_share(config: LoadConfig, target: KafkaTarget, index: int, out: Any) -> None:
    """Produce the events of users `u % producers == index` (one process of `write_kafka`)."""
    from kafka.partitioner.default import murmur2

    producer = _producer(target.bootstrap_servers)
    partitions = sorted(producer.partitions_for(target.topic) or {0})
    nparts = len(partitions)
    part_of: dict[int, int] = {}
    gen = LoadGenerator(config)
    send = producer.send
    topic = target.topic
    k = target.producers
    rate = target.rate / k if target.rate else None
    n = 0
    t0 = time.time()
    for u, line in gen.records():
        if u % k != index:
            continue
        p = part_of.get(u)
        key = gen.uid[u].encode()
        if p is None:
            p = part_of[u] = partitions[(murmur2(key) & 0x7FFFFFFF) % nparts]
        if rate is not None:
            due = t0 + n / rate
            now = time.time()
            if due > now + 0.001:
                time.sleep(due - now)
            if target.realtime:  # the event happens now: stamp it with the send time
                line = _restamp(line, time.time())
        send(topic, value=line.encode(), key=key, partition=p)
        n += 1
    producer.flush()
    seconds = time.time() - t0
    producer.close()
    out.put({"index": index, "events": n, "seconds": seconds})


def _restamp(line: str, now: float) -> str:
    i = line.index('"ts":"') + 6
    ms = int(now * 1000)
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"
    return line[:i] + text + line[i + len(text):]


def write_kafka(config: LoadConfig, target: KafkaTarget) -> dict[str, Any]:
    """Produce the stream to Kafka (key = user_id, the default partitioner's partition): through
    the Java producer, or from `target.producers` kafka-python processes, each sending a
    disjoint set of users; returns counts and the rate.

    Several processes keep each user's events in order but not the stream's: a reader that
    stamps event time as it reads (the journeys job) sees the slower process's events as late.
    The Java producer is one writer: the topic holds the stream in time order per partition."""
    client = target.client
    if client == "auto":
        client = "java" if target.rate is None and java_available() else "python"
    if client == "java":
        if target.rate is not None:
            raise ValueError("the Java producer does not pace; use client='python' with a rate")
        return write_kafka_java(config, target)
    ctx = mp.get_context("fork")
    out = ctx.Queue()
    procs = [ctx.Process(target=_produce_share, args=(config, target, i, out)) for i in range(target.producers)]
    t0 = time.perf_counter()
    for p in procs:
        p.start()
    parts: list[dict[str, Any]] = []
    while len(parts) < len(procs):
        try:
            parts.append(out.get(timeout=1.0))
        except queue.Empty:
            dead = [p for p in procs if p.exitcode not in (None, 0)]
            if dead:
                for p in procs:
                    p.kill()
                raise RuntimeError(f"a producer process failed (exit code {dead[0].exitcode})") from None
    for p in procs:
        p.join()
    seconds = time.perf_counter() - t0
    n = sum(p["events"] for p in parts)
    return {"events": n, "seconds": seconds, "events_per_s": n / seconds if seconds else 0.0,
            "producers": target.producers, "client": "python", "rate_target": target.rate}


def type_counts(config: LoadConfig) -> dict[str, int]:
    """Events per type of a configuration's stream (generates it)."""
    counts: dict[str, int] = {}
    for _, line in LoadGenerator(config).records():
        i = line.index('"type":"') + 8
        etype = line[i:line.index('"', i)]
        counts[etype] = counts.get(etype, 0) + 1
    return counts


def _parse_duration(text: str) -> timedelta:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    return timedelta(seconds=float(text[:-1]) * units[text[-1]])


def _parse_mix(text: str) -> dict[str, float]:
    """`browse=50,shop=30` as scenario weights."""
    mix: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, weight = part.partition("=")
        try:
            value = float(weight)
        except ValueError:
            value = -1.0
        if not sep or value < 0:
            raise argparse.ArgumentTypeError(f"'{part}': give SCENARIO=WEIGHT with a weight >= 0")
        mix[name.strip()] = value
    if not mix or not any(mix.values()):
        raise argparse.ArgumentTypeError("give at least one scenario with a weight above 0")
    return mix


def main(argv: list[str] | None = None) -> None:
    """`python -m bench.loadgen`: write a stream to a file or a Kafka topic and print the rate."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--users", type=int, default=10_000)
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--start", default=None, help="ISO-8601 start of event time (default: now)")
    ap.add_argument("--span", default="1d", help="event time covered, e.g. 30m, 6h, 7d")
    ap.add_argument("--relevant-share", type=float, default=None, help="share of events some journey reacts to")
    ap.add_argument("--mix", type=_parse_mix, default=None, metavar="SCENARIO=WEIGHT,...",
                    help=f"scenario weights (default {','.join(f'{k}={v:g}' for k, v in SCENARIOS.items())})")
    ap.add_argument("--out", type=Path, help="JSON-lines file to write")
    ap.add_argument("--kafka", metavar="TOPIC", help="topic to produce to (settings' bootstrap servers)")
    ap.add_argument("--rate", type=float, default=None, help="events/s in all (default: as fast as possible)")
    ap.add_argument("--producers", type=int, default=1, help="kafka-python producer processes")
    ap.add_argument("--client", choices=("auto", "java", "python"), default="auto",
                    help="Kafka client: the Java producer through a pipe, or kafka-python")
    ap.add_argument("--realtime", action="store_true", help="stamp each event with its send time (needs --rate)")
    ap.add_argument("--counts", action="store_true", help="print events per type and the relevant share")
    args = ap.parse_args(argv)
    start = datetime.fromisoformat(args.start) if args.start else datetime.now(UTC).replace(microsecond=0)
    try:
        config = LoadConfig(users=args.users, events=args.events, seed=args.seed, start=start,
                            span=_parse_duration(args.span), relevant_share=args.relevant_share,
                            scenarios=args.mix if args.mix is not None else dict(SCENARIOS))
    except ValueError as exc:
        ap.error(str(exc))
    if args.counts:
        counts = type_counts(config)
        rel = sum(n for t, n in counts.items() if t in RELEVANT_TYPES)
        for t, n in sorted(counts.items(), key=lambda kv: -kv[1]):
            print(f"{n:>10,}  {t}{'' if t in RELEVANT_TYPES else '   (no journey reads it)'}")
        print(f"relevant share: {rel / max(1, sum(counts.values())):.3f}")
    if args.out:
        res = write_file(config, args.out)
        print(f"wrote {res['events']:,} events ({res['bytes'] / 1e6:.1f} MB) to {args.out} in {res['seconds']:.2f}s: "
              f"{res['events_per_s']:,.0f} events/s")
    if args.kafka:
        from jobs.settings import Settings

        settings = Settings.load()
        topic = settings.kafka.topic_prefix + args.kafka
        res = write_kafka(config, KafkaTarget(settings.kafka.bootstrap_servers, topic, args.rate, args.realtime,
                                              args.producers, args.client))
        print(f"produced {res['events']:,} events to {topic} in {res['seconds']:.2f}s: "
              f"{res['events_per_s']:,.0f} events/s ({res['client']} client)")
    if not (args.out or args.kafka or args.counts):
        ap.error("give --out FILE, --kafka TOPIC or --counts")


if __name__ == "__main__":
    sys.exit(main())
