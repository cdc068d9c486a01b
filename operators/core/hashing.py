"""Deterministic hashing for splits, holdouts and event-id memory.

Python's `hash()` is salted per process, so it would put a user in a different split variant
after every restart; these use BLAKE2b, which is stable across processes, machines and versions.
"""

from __future__ import annotations

from hashlib import blake2b

_SEP = b"\x1f"  # unit separator: cannot appear in ids by accident the way ':' can
_SCALE = float(1 << 64)


def stable_hash64(*parts: str) -> int:
    """A 64-bit unsigned hash of `parts`, the same in every process."""
    data = _SEP.join(p.encode("utf-8") for p in parts)
    return int.from_bytes(blake2b(data, digest_size=8).digest(), "big")


def unit_interval(*parts: str) -> float:
    """Map `parts` to a point in [0, 1), uniformly and deterministically."""
    return stable_hash64(*parts) / _SCALE


def in_holdout(user_id: str, journey_id: str, percent: float) -> bool:
    """Whether the user falls in the journey's holdout (control) group of `percent` percent.

    Keyed by user and journey only (not version or entry), so a user stays in the same group
    across re-entries and new versions: the control group is stable, as lift measurement needs.
    """
    if percent <= 0:
        return False
    return unit_interval(user_id, journey_id, "holdout") * 100.0 < percent


def pick_weighted(point: float, weights: tuple[float, ...]) -> int:
    """Index of the variant whose cumulative-weight slot contains `point` in [0, 1)."""
    total = sum(weights)
    target = point * total
    acc = 0.0
    for i, w in enumerate(weights):
        acc += w
        if target < acc:
            return i
    return len(weights) - 1  # float rounding at the very top of the range


def event_id_digest(event_id: str) -> int:
    """A 48-bit digest of an event id: small in the state record, collisions negligible.

    The chance that two of a user's few dozen remembered ids collide is about n²/2⁴⁹.
    """
    return int.from_bytes(blake2b(event_id.encode("utf-8"), digest_size=6).digest(), "big")
