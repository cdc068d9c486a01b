"""Exactly-once sends: the state of every action in Redis, keyed by its deterministic `action_id`.

One key per action (`journeys:dedupe:<action_id>`, TTL `dispatch.dedupe_ttl_s`, longer than the
replay horizon) moves through these states:

    (absent) ─claim─► C claimed ─commit─► K committed ─finish─► D done | F dead-lettered | S suppressed
                          ▲                 │ transient failure: claim again (same owner)
                          └─────────────────┘

- `claim` happens just before a send starts. The value names the owner (a random token per attempt)
  and Redis' own clock, so workers on different machines agree on ages.
- `commit` is written by the adapter immediately before the irreversible step (the final `.` of an
  SMTP DATA, the HTTP request). It is sent without waiting for the reply, so nothing but the
  return from one socket write separates it from the send; the reply is read afterwards.
- A claim older than `claim_lease_s` whose owner never committed belongs to a dead worker and is
  taken over (nothing was sent). A commit older than the lease is *orphaned*: its worker died in
  the middle of the send. For providers that deduplicate by idempotency key the send is simply
  repeated; for the others (SMTP, SMS, push, Slack) it is taken as done, since the commit is
  written only once the message is on its way.
- Final states carry `recorded`: whether the delivery record (and dead letter, feedback event)
  reached Kafka. A worker that finds a final, unrecorded state re-publishes those records (their
  ids are deterministic), so a crash between the send and the Kafka flush loses no record.
- `R` (replay requested by `journeys dlq replay`) is claimable like an absent key.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable
from enum import StrEnum

import redis
from pydantic import BaseModel, ConfigDict

from connectors.dispatch import keys
from connectors.errors import ClaimLost

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

# KEYS[1] state; ARGV: token, lease_ms, ttl_ms, idempotent (0/1)
CLAIM = (
    _NOW
    + """
local v = redis.call('GET', KEYS[1])
local function claim(tag)
  redis.call('SET', KEYS[1], 'C|' .. ARGV[1] .. '|' .. now, 'PX', ARGV[3])
  return {tag, tostring(now)}
end
if not v then return claim('claimed') end
local code = string.sub(v, 1, 1)
if code == 'R' then return claim('claimed') end
if code == 'C' or code == 'K' then
  local owner, ts = string.match(v, '^%a|([^|]*)|(%d+)$')
  if owner == ARGV[1] then return claim('claimed') end
  if ts and now - tonumber(ts) < tonumber(ARGV[2]) then return {'busy', v} end
  if code == 'C' or ARGV[4] == '1' then return claim('recovered') end
  return {'orphaned', v}
end
return {'final', v}
"""
)

# KEYS[1] state; ARGV: token, ttl_ms. Returns 1 if our claim became a commit.
COMMIT = (
    _NOW
    + """
local v = redis.call('GET', KEYS[1])
if v and string.sub(v, 1, 2) == 'C|' and string.match(v, '^C|([^|]*)|') == ARGV[1] then
  redis.call('SET', KEYS[1], 'K|' .. ARGV[1] .. '|' .. now, 'PX', ARGV[2])
  return 1
end
return 0
"""
)

# KEYS[1] state; ARGV: token. Deletes our claim (never a commit): the action is left for later.
RELEASE = """
local v = redis.call('GET', KEYS[1])
if v and string.sub(v, 1, 2) == 'C|' and string.match(v, '^C|([^|]*)|') == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
"""

# KEYS[1] state; ARGV: expected value, new value, ttl_ms. Compare and set.
SWAP = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
"""

# KEYS[1] state; ARGV: ttl_ms. A dead-lettered action may be sent again (dlq replay).
REPLAY = (
    _NOW
    + """
local v = redis.call('GET', KEYS[1])
if v and string.sub(v, 1, 2) == 'F|' then
  redis.call('SET', KEYS[1], 'R|' .. now, 'PX', ARGV[1])
  return 1
end
return 0
"""
)


class StateCode(StrEnum):
    """Where an action stands."""

    CLAIMED = "C"
    COMMITTED = "K"
    DONE = "D"
    FAILED = "F"
    SUPPRESSED = "S"
    REPLAY = "R"


FINAL_CODES = frozenset({StateCode.DONE, StateCode.FAILED, StateCode.SUPPRESSED})


def _clean(text: str | None) -> str:
    return (text or "").replace("|", "/").replace("\n", " ")[:300]


class SendState(BaseModel):
    """The decoded value of an action's state key."""

    model_config = ConfigDict(frozen=True)

    code: StateCode
    owner: str | None = None
    at_ms: int = 0
    recorded: bool = False
    attempt: int = 1
    status: str | None = None
    detail: str | None = None

    @property
    def final(self) -> bool:
        """Done, dead-lettered or suppressed: the action is never sent again (short of a replay)."""
        return self.code in FINAL_CODES

    def encode(self) -> str:
        """The Redis value."""
        if self.code in (StateCode.CLAIMED, StateCode.COMMITTED):
            return f"{self.code.value}|{self.owner}|{self.at_ms}"
        if self.code is StateCode.REPLAY:
            return f"R|{self.at_ms}"
        rec = "1" if self.recorded else "0"
        return f"{self.code.value}|{rec}|{self.attempt}|{self.at_ms}|{_clean(self.status)}|{_clean(self.detail)}"

    @classmethod
    def decode(cls, value: str) -> SendState:
        """Parse a Redis value."""
        code = StateCode(value[:1])
        parts = value.split("|")
        if code in (StateCode.CLAIMED, StateCode.COMMITTED):
            return cls(code=code, owner=parts[1], at_ms=int(parts[2]))
        if code is StateCode.REPLAY:
            return cls(code=code, at_ms=int(parts[1]))
        return cls(
            code=code,
            recorded=parts[1] == "1",
            attempt=int(parts[2]),
            at_ms=int(parts[3]),
            status=parts[4] or None,
            detail=parts[5] or None,
        )

    @classmethod
    def final_state(
        cls, code: StateCode, *, status: str, attempt: int, detail: str | None = None, recorded: bool = False
    ) -> SendState:
        """A final state stamped with the local clock."""
        return cls(
            code=code, status=status, attempt=attempt, detail=detail, recorded=recorded,
            at_ms=int(time.time() * 1000),
        )


class ClaimOutcome(StrEnum):
    """What `claim` found."""

    CLAIMED = "claimed"  # ours now; go ahead
    RECOVERED = "recovered"  # ours now, taken over from a dead worker
    BUSY = "busy"  # another live worker is sending it
    ORPHANED = "orphaned"  # a dead worker committed it: treat as sent (provider not idempotent)
    FINAL = "final"  # done, dead-lettered or suppressed already


class ClaimResult(BaseModel):
    """The outcome of a claim, with the state found when it was not ours."""

    model_config = ConfigDict(frozen=True)

    outcome: ClaimOutcome
    state: SendState | None = None
    raw: str | None = None


class DedupeStore:
    """Batch look-ups and finals over a shared client (any thread)."""

    def __init__(self, client: redis.Redis, ttl_s: int) -> None:
        self.client = client
        self.ttl_ms = ttl_s * 1000
        self._swap = client.register_script(SWAP)
        self._replay = client.register_script(REPLAY)

    def peek(self, action_ids: Iterable[str]) -> dict[str, SendState | None]:
        """The state of each action (None: never seen), one round trip."""
        ids = list(action_ids)
        if not ids:
            return {}
        values = self.client.mget([keys.dedupe(a) for a in ids])
        return {a: SendState.decode(v) if v else None for a, v in zip(ids, values, strict=True)}

    def finish(self, action_id: str, state: SendState) -> None:
        """Write a final state."""
        self.client.set(keys.dedupe(action_id), state.encode(), px=self.ttl_ms)

    def mark_recorded(self, finals: dict[str, SendState]) -> None:
        """Flag final states as recorded in Kafka (one round trip for a batch)."""
        if not finals:
            return
        with self.client.pipeline(transaction=False) as pipe:
            for action_id, state in finals.items():
                pipe.set(keys.dedupe(action_id), state.model_copy(update={"recorded": True}).encode(), px=self.ttl_ms)
            pipe.execute()

    def swap(self, action_id: str, expected: str, state: SendState) -> bool:
        """Replace the state only if it is still `expected`."""
        return bool(self._swap(keys=[keys.dedupe(action_id)], args=[expected, state.encode(), self.ttl_ms]))

    def allow_replay(self, action_id: str) -> bool:
        """Let a dead-lettered action be sent again; False if it is not dead-lettered (now)."""
        return bool(self._replay(keys=[keys.dedupe(action_id)], args=[self.ttl_ms]))


class SenderSession:
    """The claim/commit protocol for one sender thread, on a connection of its own.

    The commit is written without waiting for its reply (see module doc); `settle()` reads it.
    """

    def __init__(self, client: redis.Redis, *, ttl_s: int, lease_s: float) -> None:
        self.client = client
        self.ttl_ms = ttl_s * 1000
        self.lease_ms = int(lease_s * 1000)
        self._pending_commit = False
        self._claim = client.register_script(CLAIM)
        self._release = client.register_script(RELEASE)

    def claim(self, action_id: str, token: str, *, idempotent: bool) -> ClaimResult:
        """Claim the action for `token`."""
        self.settle()
        tag, value = self._claim(
            keys=[keys.dedupe(action_id)], args=[token, self.lease_ms, self.ttl_ms, 1 if idempotent else 0]
        )
        outcome = ClaimOutcome(tag)
        if outcome in (ClaimOutcome.CLAIMED, ClaimOutcome.RECOVERED):
            return ClaimResult(outcome=outcome)
        return ClaimResult(outcome=outcome, state=SendState.decode(value), raw=value)

    def commit(self, action_id: str, token: str) -> None:
        """Mark the send irreversible, without waiting for Redis' reply."""
        self.settle()
        conn = self.client.connection
        if conn is None:  # pragma: no cover - single-connection clients always have one
            raise RuntimeError("SenderSession needs a single-connection Redis client")
        conn.send_command("EVAL", COMMIT, 1, keys.dedupe(action_id), token, self.ttl_ms)
        self._pending_commit = True

    def settle(self) -> None:
        """Read the reply of a commit written earlier; raise ClaimLost if the claim was not ours."""
        if not self._pending_commit:
            return
        self._pending_commit = False
        conn = self.client.connection
        assert conn is not None
        reply = conn.read_response()
        if isinstance(reply, redis.ResponseError):  # pragma: no cover - the script is static
            raise reply
        if int(reply) != 1:
            raise ClaimLost("the claim expired and another worker took the action over")

    def finish(self, action_id: str, state: SendState) -> None:
        """Write a final state (reading any pending commit reply first)."""
        pending_error: ClaimLost | None = None
        try:
            self.settle()
        except ClaimLost as exc:
            pending_error = exc
        self.client.set(keys.dedupe(action_id), state.encode(), px=self.ttl_ms)
        if pending_error is not None:
            raise pending_error

    def release(self, action_id: str, token: str) -> None:
        """Give up our (uncommitted) claim so another worker can send the action."""
        self.settle()
        self._release(keys=[keys.dedupe(action_id)], args=[token])

    def reclaim(self, action_id: str, token: str) -> None:
        """After a failed attempt that sent nothing: back to claimed by us (before retrying)."""
        self.settle()
        tag, _ = self._claim(keys=[keys.dedupe(action_id)], args=[token, self.lease_ms, self.ttl_ms, 0])
        if ClaimOutcome(tag) not in (ClaimOutcome.CLAIMED, ClaimOutcome.RECOVERED):
            raise ClaimLost("the claim expired and another worker took the action over")

    def close(self) -> None:
        """Drop the connection."""
        with contextlib.suppress(ClaimLost, redis.RedisError):
            self.settle()
        self.client.close()
