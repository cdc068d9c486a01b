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
from state.record import Instance, PendingFallback, UserState, Waiting

SCHEMA_VERSION = 1

#: version -> function turning a decoded mapping of that version into the next version's layout.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}

_KNOWN = frozenset("vpzcsxeimkfdth")


_dumps = orjson.dumps
_loads = orjson.loads
_WAITING: dict[int, Waiting] = {int(w): w for w in Waiting}


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
        out["e"] = state.entries
    if state.instances:
        out["i"] = [_instance_out(i) for i in state.instances]
    if state.sends:
        out["m"] = state.sends
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
    return _dumps(out)


def decode(data: bytes | bytearray | memoryview | str | None) -> UserState:
    """Read a record written by this or an earlier schema version; None or empty gives a fresh one."""
    if data is None or len(data) == 0:
        return UserState()
    try:
        raw = _loads(data)
    except orjson.JSONDecodeError as exc:
        raise StateDecodeError(f"state record is not valid JSON: {exc}") from exc
    version = raw.get("v") if type(raw) is dict else None
    if version != SCHEMA_VERSION or type(version) is not int:
        raw = _upgrade(raw)
    try:
        return _build(raw)
    except (TypeError, ValueError, IndexError, KeyError, AttributeError) as exc:
        raise StateDecodeError(f"malformed state record (schema version {raw.get('v')}): {exc}") from exc


def _upgrade(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict) or not isinstance(raw.get("v"), int):
        raise StateDecodeError("state record has no schema version 'v'; it was not written by this codec")
    version = raw["v"]
    while version < SCHEMA_VERSION:
        migrate = MIGRATIONS.get(version)
        if migrate is None:
            raise StateDecodeError(f"no migration from state schema version {version} to {version + 1}")
        raw = migrate(raw)
        version += 1
    return raw


def _build(raw: dict[str, Any]) -> UserState:
    # One constructor call with every field: most parts (profile, entries, sends, counters, seen
    # ids, schedule) are the decoded JSON itself; only instances and fallbacks become objects.
    get = raw.get
    c = get("c")
    i = get("i")
    f = get("f")
    state = UserState(
        get("p") or {},
        get("z"),
        {k: bool(v) for k, v in c.items()} if c else {},
        bool(get("s", 0)),
        get("x"),
        get("e") or {},
        [
            Instance(a[0], a[1], a[2], a[3], a[4], _WAITING[a[5]], a[6], a[7] or {}) if len(a) == 8 else _instance_in(a)
            for a in i
        ] if i else [],
        get("m") or [],
        get("k") or {},
        [_fallback_in(a) for a in f] if f else [],
        get("d") or [],
        get("t", 0),
        get("h") or {},
    )
    if not _KNOWN.issuperset(raw):
        state.extra = {k: raw[k] for k in raw.keys() - _KNOWN}
    return state


def _instance_out(i: Instance) -> list[Any]:
    # Trailing items at their defaults are left out (the first seven are always written).
    if i.visits:
        return [i.journey_id, i.version, i.entry, i.node, i.entered_at, int(i.waiting), i.deadline, i.event,
                1 if i.holdout else 0, i.visits]
    if i.holdout:
        return [i.journey_id, i.version, i.entry, i.node, i.entered_at, int(i.waiting), i.deadline, i.event, 1]
    if i.event:
        return [i.journey_id, i.version, i.entry, i.node, i.entered_at, int(i.waiting), i.deadline, i.event]
    return [i.journey_id, i.version, i.entry, i.node, i.entered_at, int(i.waiting), i.deadline]


def _instance_in(a: list[Any]) -> Instance:
    n = len(a)
    if n == 8:
        return Instance(a[0], a[1], a[2], a[3], a[4], _WAITING[a[5]], a[6], a[7] or {})
    if n == 7:
        return Instance(a[0], a[1], a[2], a[3], a[4], _WAITING[a[5]], a[6])
    return Instance(
        a[0], a[1], a[2], a[3], a[4], _WAITING[a[5]], a[6],
        (a[7] or {}) if n > 7 else {},
        bool(a[8]) if n > 8 else False,
        (a[9] or None) if n > 9 else None,
    )


def _fallback_out(f: PendingFallback) -> list[Any]:
    if f.due:
        return [f.action_id, f.journey_id, f.version, f.entry, f.node, f.expires, f.event, f.due]
    if f.event:
        return [f.action_id, f.journey_id, f.version, f.entry, f.node, f.expires, f.event]
    return [f.action_id, f.journey_id, f.version, f.entry, f.node, f.expires]


def _fallback_in(a: list[Any]) -> PendingFallback:
    n = len(a)
    return PendingFallback(
        a[0], a[1], a[2], a[3], a[4], a[5],
        (a[6] or {}) if n > 6 else {},
        a[7] if n > 7 else 0,
    )
