"""The versioned, compact codec of `UserState`: JSON via orjson, never pickle.

Layout: one JSON object with one-letter keys, empty parts left out, so a fresh user costs a few
bytes and each part costs only when used. Nested items are positional arrays whose trailing
default values are dropped:

```
{"v": 1,                       schema version (always present)
 "p": {...},                   profile traits
 "z": "Europe/Paris",          last context.tz
 "c": {"email:marketing": 0},  consent: 1 opted in, 0 opted out
 "s": 1,                       globally suppressed
 "x": 1764000000000,           erased at (tombstone)
 "e": {"cart": [2, 1764…]},    entries: [count, last entered ms]
 "i": [[journey, version, entry, node, entered_ms, waiting, deadline_ms, props, holdout, visits]],
 "m": [[ts_ms, channel, journey]],               sends that count toward caps
 "k": {"order.completed@3600": [bucket, n, …]},  counters
 "f": [[action_id, journey, version, entry, node, expires_ms, props, due_ms]],  pending fallbacks
 "d": [digest, ts_s, …],       recent event ids
 "t": 1764000000000,           last activity
 "h": {"journey": slot_ms}}    schedule cursors
```

Compatibility rules, tested in `tests/unit/test_state_codec.py`:

* Forward: a new field is a new key (or a new trailing array item) with a default; records
  written before it decode with that default. Unknown top-level keys from a newer writer are
  kept in `extra` and written back unchanged.
* Breaking changes bump `SCHEMA_VERSION` and add a function to `MIGRATIONS` that rewrites the
  older layout into the next one; decoding applies them in order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from state.errors import StateDecodeError
from state.record import EntryLog, Instance, PendingFallback, Send, UserState, Waiting

SCHEMA_VERSION = 1

#: version -> function turning a decoded mapping of that version into the next version's layout.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}

_KNOWN = frozenset("vpzcsxeimkfdth")


def encode(state: UserState) -> bytes:
    """Serialize a record to compact bytes (the form kept in Flink state)."""
    out: dict[str, Any] = {"v": SCHEMA_VERSION}
    if state.profile:
        out["p"] = state.profile
    if state.tz:
        out["z"] = state.tz
    if state.consent:
        out["c"] = {k: 1 if v else 0 for k, v in state.consent.items()}
    if state.suppressed:
        out["s"] = 1
    if state.erased_at is not None:
        out["x"] = state.erased_at
    if state.entries:
        out["e"] = {j: [log.count, log.last_at] for j, log in state.entries.items()}
    if state.instances:
        out["i"] = [_instance_out(i) for i in state.instances]
    if state.sends:
        out["m"] = [[s.ts, s.channel, s.journey_id] for s in state.sends]
    if state.counters:
        out["k"] = state.counters
    if state.fallbacks:
        out["f"] = [_fallback_out(f) for f in state.fallbacks]
    if state.seen:
        out["d"] = state.seen
    if state.last_seen:
        out["t"] = state.last_seen
    if state.schedule:
        out["h"] = state.schedule
    if state.extra:
        for k, v in state.extra.items():
            out.setdefault(k, v)
    return orjson.dumps(out)


def decode(data: bytes | bytearray | memoryview | str | None) -> UserState:
    """Read a record written by this or an earlier schema version; None or empty gives a fresh one."""
    if data is None or len(data) == 0:
        return UserState()
    try:
        raw = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise StateDecodeError(f"state record is not valid JSON: {exc}") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("v"), int):
        raise StateDecodeError("state record has no schema version 'v'; it was not written by this codec")
    version = raw["v"]
    while version < SCHEMA_VERSION:
        migrate = MIGRATIONS.get(version)
        if migrate is None:
            raise StateDecodeError(f"no migration from state schema version {version} to {version + 1}")
        raw = migrate(raw)
        version += 1
    try:
        return _build(raw)
    except (TypeError, ValueError, IndexError, KeyError, AttributeError) as exc:
        raise StateDecodeError(f"malformed state record (schema version {raw.get('v')}): {exc}") from exc


def _build(raw: dict[str, Any]) -> UserState:
    state = UserState()
    if (p := raw.get("p")) is not None:
        state.profile = p
    state.tz = raw.get("z")
    if (c := raw.get("c")) is not None:
        state.consent = {k: bool(v) for k, v in c.items()}
    state.suppressed = bool(raw.get("s", 0))
    state.erased_at = raw.get("x")
    if (e := raw.get("e")) is not None:
        state.entries = {j: EntryLog(v[0], v[1]) for j, v in e.items()}
    if (i := raw.get("i")) is not None:
        state.instances = [_instance_in(item) for item in i]
    if (m := raw.get("m")) is not None:
        state.sends = [Send(s[0], s[1], s[2]) for s in m]
    if (k := raw.get("k")) is not None:
        state.counters = k
    if (f := raw.get("f")) is not None:
        state.fallbacks = [_fallback_in(item) for item in f]
    if (d := raw.get("d")) is not None:
        state.seen = d
    state.last_seen = raw.get("t", 0)
    if (h := raw.get("h")) is not None:
        state.schedule = h
    unknown = raw.keys() - _KNOWN
    if unknown:
        state.extra = {k: raw[k] for k in unknown}
    return state


def _trim(items: list[Any], required: int) -> list[Any]:
    # Drop trailing optional items still at their defaults (falsy), keeping the required ones.
    n = len(items)
    while n > required and not items[n - 1]:
        n -= 1
    return items[:n]


def _instance_out(i: Instance) -> list[Any]:
    return _trim(
        [
            i.journey_id,
            i.version,
            i.entry,
            i.node,
            i.entered_at,
            int(i.waiting),
            i.deadline,
            i.event,
            1 if i.holdout else 0,
            i.visits,
        ],
        7,
    )


def _instance_in(a: list[Any]) -> Instance:
    n = len(a)
    return Instance(
        journey_id=a[0],
        version=a[1],
        entry=a[2],
        node=a[3],
        entered_at=a[4],
        waiting=Waiting(a[5]),
        deadline=a[6],
        event=(a[7] or {}) if n > 7 else {},
        holdout=bool(a[8]) if n > 8 else False,
        visits=(a[9] or None) if n > 9 else None,
    )


def _fallback_out(f: PendingFallback) -> list[Any]:
    return _trim([f.action_id, f.journey_id, f.version, f.entry, f.node, f.expires, f.event, f.due], 6)


def _fallback_in(a: list[Any]) -> PendingFallback:
    return PendingFallback(
        action_id=a[0],
        journey_id=a[1],
        version=a[2],
        entry=a[3],
        node=a[4],
        expires=a[5],
        event=(a[6] or {}) if len(a) > 6 else {},
        due=a[7] if len(a) > 7 else 0,
    )
