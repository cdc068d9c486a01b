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
import ctypes
import logging
import socket
import threading
import time
from collections import deque
from collections.abc import Iterable
from enum import StrEnum

import redis
from pydantic import BaseModel, ConfigDict
from redis.connection import Connection
from redis.exceptions import NoScriptError

from connectors.dispatch import keys
from connectors.errors import ClaimLost

log = logging.getLogger(__name__)

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


# libc's send() through PyDLL keeps the GIL across the call: between two such calls no other thread
# of the worker can run, so the second write follows the first within microseconds.
_LIBC = ctypes.PyDLL(None, use_errno=True)
_LIBC.send.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int)
_LIBC.send.restype = ctypes.c_ssize_t


def _send_now(sock: socket.socket, data: bytes) -> int:
    """Write what the socket takes without waiting (holding the GIL); the count written, 0 if none."""
    return max(int(_LIBC.send(sock.fileno(), data, len(data), socket.MSG_NOSIGNAL | socket.MSG_DONTWAIT)), 0)


class _FirstWriteFailed(Exception):
    """The first of two back-to-back writes failed (so the second was not made)."""


def _send_back_to_back(first_sock: socket.socket, first: bytes, second_sock: socket.socket, second: bytes) -> None:
    """`first` then `second`, each on its socket, with nothing of this process running in between.
    A socket whose buffer is full takes the rest through `sendall`; the second's errors propagate."""
    sent = _send_now(first_sock, first)
    if sent < len(first):
        try:
            first_sock.sendall(first[sent:])
        except OSError as exc:
            raise _FirstWriteFailed from exc
    sent = _send_now(second_sock, second)
    if sent < len(second):
        second_sock.sendall(second[sent:])


class SenderSession:
    """The claim/commit protocol for one sender thread, on a connection of its own.

    Commands are pipelined: a chunk of actions is claimed in one round trip; a commit is written at
    once without waiting, together with the previous send's final state; replies are read when a
    claim needs its own (or by `settle()`, which the worker calls for every sender before
    committing a batch's offsets). So a send costs one write to Redis plus a share of its chunk's
    round trip.
    """

    def __init__(self, client: redis.Redis, *, ttl_s: int, lease_s: float) -> None:
        self.client = client
        self.ttl_ms = ttl_s * 1000
        self.lease_ms = int(lease_s * 1000)
        self._outbox: list[tuple[tuple[object, ...], str, str]] = []
        self._inflight: deque[tuple[str, str]] = deque()
        self._lock = threading.RLock()
        self._claim_sha = client.script_load(CLAIM)
        self._release = client.register_script(RELEASE)
        self._reclaim = client.register_script(CLAIM)
        self.lost: list[str] = []

    def _conn(self) -> Connection:
        conn = self.client.connection
        if conn is None:  # pragma: no cover - single-connection clients always have one
            raise RuntimeError("SenderSession needs a single-connection Redis client")
        return conn

    def _write(
        self, commands: list[tuple[tuple[object, ...], str, str]], then_send: tuple[socket.socket, bytes] | None = None
    ) -> None:
        """Pipeline `commands` (replies read later); with `then_send`, that write follows at once."""
        if not commands:
            return
        conn = self._conn()
        packed = conn.pack_commands([args for args, _, _ in commands])
        if then_send is None:
            conn.send_packed_command(packed, check_health=False)
        else:
            if conn._sock is None:  # connect now, not between the two writes
                conn.connect()
            try:
                _send_back_to_back(conn._sock, b"".join(packed), *then_send)
            except _FirstWriteFailed as exc:
                conn.disconnect()  # the replies still owed went with the connection
                self._inflight.clear()
                raise redis.ConnectionError(f"writing the commit to Redis: {exc.__cause__}") from None
        self._inflight.extend((kind, action_id) for _, kind, action_id in commands)

    def _read_one(self) -> object:
        kind, action_id = self._inflight.popleft()
        # Raises the error of an error reply (the entry is consumed either way).
        reply = self._conn().read_response()
        if kind == "commit" and int(reply) != 1:  # type: ignore[call-overload]
            # Our lease ran out before the send and another worker took over: it may send too.
            log.warning("action %s: claim expired before the send; another worker may send it", action_id)
            self.lost.append(action_id)
        return reply

    def settle(self) -> None:
        """Write what is queued and read every outstanding reply."""
        with self._lock:
            outbox, self._outbox = self._outbox, []
            self._write(outbox)
            while self._inflight:
                self._read_one()

    def claim(self, action_id: str, token: str, *, idempotent: bool) -> ClaimResult:
        """Claim the action for `token` (writing queued final states along)."""
        return self.claim_many([(action_id, token)], idempotent=idempotent)[0]

    def claim_many(self, claims: list[tuple[str, str]], *, idempotent: bool) -> list[ClaimResult]:
        """Claim several actions, each for its token, in one round trip (queued states go along)."""
        if not claims:
            return []
        with self._lock:
            outbox, self._outbox = self._outbox, []
            commands = [
                (
                    ("EVALSHA", self._claim_sha, 1, keys.dedupe(action_id), token, self.lease_ms, self.ttl_ms,
                     1 if idempotent else 0),
                    "claim",
                    action_id,
                )
                for action_id, token in claims
            ]
            self._write([*outbox, *commands])
            replies: list[object] = []
            missing_script = False
            while self._inflight:
                kind = self._inflight[0][0]
                try:
                    reply = self._read_one()
                except NoScriptError:
                    missing_script = True
                    continue
                if kind == "claim":
                    replies.append(reply)
            if missing_script:
                # The server lost its script cache (restart, SCRIPT FLUSH): nothing was claimed.
                self._claim_sha = self.client.script_load(CLAIM)
                return self.claim_many(claims, idempotent=idempotent)
        results = []
        for tag, value in replies:  # type: ignore[misc]
            outcome = ClaimOutcome(tag)
            if outcome in (ClaimOutcome.CLAIMED, ClaimOutcome.RECOVERED):
                results.append(ClaimResult(outcome=outcome))
            else:
                results.append(ClaimResult(outcome=outcome, state=SendState.decode(value), raw=value))
        return results

    def commit(self, action_id: str, token: str, then_send: tuple[socket.socket, bytes] | None = None) -> None:
        """Mark the send irreversible, without waiting for Redis' reply (queued states go along).

        With `then_send=(sock, data)` the mark and `data` on `sock` go out back to back (see `Commit`)."""
        with self._lock:
            outbox, self._outbox = self._outbox, []
            self._write([*outbox, (("EVAL", COMMIT, 1, keys.dedupe(action_id), token, self.ttl_ms), "commit",
                                   action_id)], then_send)

    def finish(self, action_id: str, state: SendState) -> None:
        """Queue a final state: it goes out with the next commit or claim (one write for both), or
        with `settle()`. So if the worker dies, at most the send in progress and the one before it
        are left committed-but-unfinished per sender thread."""
        with self._lock:
            self._outbox.append(
                (("SET", keys.dedupe(action_id), state.encode(), "PX", self.ttl_ms), "set", action_id)
            )

    def release(self, action_id: str, token: str) -> None:
        """Give up our (uncommitted) claim so another worker can send the action."""
        with self._lock:
            self.settle()
            self._release(keys=[keys.dedupe(action_id)], args=[token])

    def reclaim(self, action_id: str, token: str) -> None:
        """After a failed attempt that sent nothing: back to claimed by us (before retrying)."""
        with self._lock:
            self.settle()
            tag, _ = self._reclaim(keys=[keys.dedupe(action_id)], args=[token, self.lease_ms, self.ttl_ms, 0])
        if ClaimOutcome(tag) not in (ClaimOutcome.CLAIMED, ClaimOutcome.RECOVERED):
            raise ClaimLost("the claim expired and another worker took the action over")

    def close(self) -> None:
        """Write what is queued, read outstanding replies and drop the connection."""
        with contextlib.suppress(redis.RedisError):
            self.settle()
        self.client.close()
