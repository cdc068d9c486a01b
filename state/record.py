"""The per-user state record: everything the interpreter remembers about one user.

One `UserState` per user key, read once and written at most once per event. Times are integer
milliseconds since the Unix epoch (UTC): cheaper to store and compare than datetimes, and exact.
The interpreter mutates a decoded record in place and hands it back; nothing here is shared
between users.

What it holds, and why each part stays small:

* `profile` — traits (from `identify`, any event's `traits`, and `update_profile` nodes).
* `tz` — the last `context.tz` seen, so timers fired without an event still know the user's zone.
* `consent` — `"channel:category"` → opted in (True) / out (False); `*` stands for "every".
* `suppressed` — on the global suppression list; `erased_at` — tombstone after `user.deleted`.
* `entries` — per journey: how many times the user entered and when last (re-entry policies).
* `instances` — the journey instances in flight; each is waiting on exactly one deadline or event.
* `sends` — recent sends that count toward caps, pruned past the longest cap window.
* `counters` — rolling-window event counts as sparse buckets (see `state.counters`).
* `fallbacks` — sent messages whose fallback may still fire on a `failed`/`bounced` delivery.
* `seen` — digests of recent event ids (idempotency), pruned by count and age.
* `schedule` — per schedule-triggered journey, the last slot the user was considered for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any


class Waiting(IntEnum):
    """What an instance at rest waits on. Every live instance waits on exactly one of these."""

    TIMER = 1  # wait / wait_until: the deadline moves it to `next`
    EVENT = 2  # wait_for: a matching event, or the deadline (timeout)
    DEFERRED = 3  # a message held by quiet hours: the deadline sends it


@dataclass(slots=True)
class Instance:
    """One user's run through one version of one journey."""

    journey_id: str
    version: int
    entry: int  # 1 for the first entry, 2 for the second…: goes into every action_id
    node: str  # the node the instance rests at
    entered_at: int  # ms
    waiting: Waiting
    deadline: int  # ms; for EVENT the timeout
    event: dict[str, Any] = field(default_factory=dict)  # entry event props (`event.props`, template vars)
    holdout: bool = False
    visits: dict[str, int] | None = None  # action nodes run more than once in this instance (loops)

    @property
    def key(self) -> tuple[str, int]:
        """(journey id, entry number): unique among a user's instances."""
        return (self.journey_id, self.entry)


# Sends and entry logs are short fixed-position lists, exactly as the codec stores them: they
# decode and encode without a copy or an object per item. Build them with `Send` / `EntryLog` and
# read them by the positions below.

SEND_TS, SEND_CHANNEL, SEND_JOURNEY = 0, 1, 2
ENTRY_COUNT, ENTRY_LAST_AT = 0, 1


def Send(ts: int, channel: str, journey_id: str) -> list[Any]:
    """A send that counts toward caps (transactional sends never do): `[ts_ms, channel, journey_id]`."""
    return [ts, channel, journey_id]


def EntryLog(count: int, last_at: int) -> list[int]:
    """How often the user entered a journey (any version) and when last: `[count, last_at_ms]`."""
    return [count, last_at]


@dataclass(slots=True)
class PendingFallback:
    """A sent message whose fallback fires if a `failed`/`bounced` delivery arrives before `expires`."""

    action_id: str
    journey_id: str
    version: int
    entry: int
    node: str
    expires: int  # ms
    event: dict[str, Any] = field(default_factory=dict)  # entry event props of the original send
    due: int = 0  # ms; set when a triggered fallback waits out quiet hours (0: not triggered)


@dataclass(slots=True)
class UserState:
    """Everything the interpreter keeps for one user. See the module docstring for each field."""

    profile: dict[str, Any] = field(default_factory=dict)
    tz: str | None = None
    consent: dict[str, bool] = field(default_factory=dict)
    suppressed: bool = False
    erased_at: int | None = None
    entries: dict[str, list[int]] = field(default_factory=dict)  # journey id -> EntryLog
    instances: list[Instance] = field(default_factory=list)
    sends: list[list[Any]] = field(default_factory=list)  # Send lists, oldest first
    counters: dict[str, list[int]] = field(default_factory=dict)
    fallbacks: list[PendingFallback] = field(default_factory=list)
    seen: list[int] = field(default_factory=list)  # flat [digest, ts_seconds, digest, ts_seconds, …]
    last_seen: int = 0  # ms of the latest event or timer processed
    schedule: dict[str, int] = field(default_factory=dict)  # journey id -> last slot considered (ms)
    #: Top-level fields written by a newer schema that this code does not know: kept verbatim and
    #: written back, so a rollback does not lose them.
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def erased(self) -> bool:
        """Whether the user was erased (`user.deleted`): a tombstone that sends nothing, ever."""
        return self.erased_at is not None

    def has_pending(self) -> bool:
        """Whether anything is still in flight: an instance or a fallback that may fire."""
        return bool(self.instances or self.fallbacks)
