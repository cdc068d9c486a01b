"""The interpreter: one user's state plus an event or a timer firing in, a `Step` out.

Pure and deterministic: no Flink, no I/O, no randomness, no wall clock except `emitted_at`
(from the injectable `clock`). The Flink adapter calls, per user key:

```python
interp = Interpreter(journeys, guardrails)          # once per operator (plan change: rebuild)
step = interp.on_event(codec.decode(raw), event)    # an event for this user
step = interp.on_timer(codec.decode(raw), user_id, now)   # the user's timer fired
# write codec.encode(step.state) if step.changed (delete the key if step.state is None),
# emit step.actions / step.outcomes, and keep exactly one timer at step.wakeup.
```

Order of work for an event (event time `ts`):

1. an erased user (tombstone) or a repeated `event_id` changes nothing;
2. deadlines at or before `ts` are processed first, in deadline order, as if their timers had
   fired (so the outcome never depends on when the watermark passed them: a timer due at exactly
   `ts` may or may not have fired before the event arrives, so the deadline always wins the tie);
3. traits, `context.tz`, counters, consent, suppression and unsubscribes are absorbed;
   `user.deleted` erases the user and stops here; `message.failed|bounced` may fire a fallback;
4. each live instance, in entry order: goals (converted, and exit unless `exit: false`), then
   `exit_on`, then a `wait_for` waiting on this event;
5. entries into journeys whose trigger this event is.

Semantics that are decided here (and documented for users):

* Global suppression: the reserved event `suppression.updated` with `props.status` `suppressed`
  or `unsuppressed`. A suppressed user gets no message of any priority (reason
  `suppression_list`); webhooks, flags and profile updates still run.
* `message.unsubscribed` opts the user out of `props.channel` for `props.category` (default
  `marketing`), like a `consent.updated`.
* A node on a cycle that emits an action again in the same instance gets `#<visit>` after its
  node id in the `action_id` (`j:3:u:digest#2:1`); a fallback send gets `~fb`
  (`j:3:u:email_1~fb:1`), so no two actions ever share an id.
* A `wait_for` that resolves writes a `branch` outcome on its node with detail `on_event` or
  `on_timeout`; entering writes `entered` (detail `holdout` for the control group).
* Deferring a message for quiet hours writes a `node` outcome with detail
  `deferred:quiet_hours until <time>`; the send (or suppression) follows when the window ends.
* Holdout users run the whole journey but every action node is `suppressed: holdout`;
  `update_profile` still applies; goals still convert (that is what the control group is for).
* A `wait_for`, goal or `exit_on` ignores events older than the instance's entry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from jobs.spec.journey import Journey, ReentryPolicy
from jobs.spec.records import (
    CONSENT_UPDATED,
    USER_DELETED,
    ActionRecord,
    Event,
    ExitReason,
    OutcomeKind,
    OutcomeRecord,
    SuppressionReason,
    make_action_id,
    parse_action_id,
)
from operators.core.conditions import EvalContext
from operators.core.effects import Erasure, ProfileUpdate, Step
from operators.core.errors import ConfigurationError, InterpreterError, StepLimitExceeded
from operators.core.guardrails import Guardrails
from operators.core.hashing import event_id_digest, in_holdout
from operators.core.localtime import next_local_time, quiet_until, try_zone
from operators.core.plugins import ActionDraft, ActionPlugin, default_plugins
from operators.core.program import (
    CAction,
    CBranch,
    CCap,
    CExit,
    CompiledJourney,
    CSplit,
    CUpdateProfile,
    CWait,
    CWaitFor,
    CWaitUntil,
    compile_caps,
    ms,
)
from operators.core.records import check_trusted, trusted
from state import counters as ctr
from state.record import (
    ENTRY_COUNT,
    ENTRY_LAST_AT,
    SEND_CHANNEL,
    SEND_JOURNEY,
    SEND_TS,
    EntryLog,
    Instance,
    PendingFallback,
    Send,
    UserState,
    Waiting,
)
from state.retention import Retention, compact, expires_at, is_compact, prune

if TYPE_CHECKING:
    from jobs.compiler.plan import CompiledPlan

SUPPRESSION_UPDATED = "suppression.updated"
"""Reserved event: `props.status` is `suppressed` (add to the global suppression list) or `unsuppressed`."""
MESSAGE_UNSUBSCRIBED = "message.unsubscribed"
DELIVERY_FAILURES = frozenset({"message.failed", "message.bounced"})
FALLBACK_SUFFIX = "~fb"
_ABSORBED = frozenset({CONSENT_UPDATED, SUPPRESSION_UPDATED, MESSAGE_UNSUBSCRIBED})  # reserved types _absorb handles

check_trusted(ActionRecord)
check_trusted(OutcomeRecord)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_MAX_DUE_PER_STEP = 10_000
_SLOT_CACHE_MAX = 1 << 17  # entries (~150 bytes each)
_DT_CACHE_MAX = 1 << 16  # entries (~140 bytes each)
_ERROR_DETAIL_MAX = 500


def to_ms(dt: datetime) -> int:
    """Milliseconds since the epoch of a tz-aware datetime (exact, no float rounding)."""
    if dt.tzinfo is None:
        raise ValueError("the interpreter only takes tz-aware datetimes")
    return (dt - _EPOCH) // _MS


def to_dt(value: int) -> datetime:
    """The UTC datetime of `value` milliseconds since the epoch."""
    return _EPOCH + timedelta(0, 0, 0, value)  # positional (days, s, µs, ms): no keyword parsing


def _wall_clock() -> datetime:
    return datetime.now(UTC)


class _Run:
    """Per-call scratch: the state being changed, the effects gathered, instances that ended."""

    __slots__ = ("emitted_at", "event", "event_id", "gone", "state", "step", "t_dt", "t_ms", "user_id")

    def __init__(self, state: UserState, user_id: str, event: Event | None) -> None:
        self.state = state
        self.user_id = user_id
        self.event = event
        self.event_id = event.event_id if event is not None else None
        self.step = Step(state)
        self.gone: set[int] = set()
        self.emitted_at: datetime | None = None  # read from the clock when the first record is made
        self.t_ms = -1  # the last event time turned into a datetime for a record, and that datetime
        self.t_dt: datetime | None = None

    def when(self, t: int) -> datetime:
        """`to_dt(t)`, remembered: a step's records mostly share one time."""
        if t != self.t_ms:
            self.t_ms = t
            self.t_dt = to_dt(t)
        return self.t_dt  # type: ignore[return-value]


class Interpreter:
    """Runs journeys for one user at a time. Build once; call `on_event` / `on_timer` per user.

    Args:
      journeys: every journey version that may have users in it. Users keep the version they
        entered; new entries go to the `active` version of each journey.
      guardrails: global caps, default timezone and quiet hours, consent policy, retention.
      plugins: node kind -> `ActionPlugin` for plugin action kinds (default: the module registry).
      active: journey id -> version taking new entries. Default: the highest version of each.
        Journeys missing from an explicit mapping take no entries (stopped or draft).
      paused: journey ids that are paused: no entries, no progress, no sends; waiting users stay
        where they are and continue once the journey is resumed (rebuild without it).
      clock: wall clock for `emitted_at` (inject a fixed one for reproducible records).
      strict: re-raise errors inside a journey instead of reporting them as `error` outcomes.
    """

    def __init__(
        self,
        journeys: Iterable[Journey],
        guardrails: Guardrails | None = None,
        *,
        plugins: Mapping[str, ActionPlugin] | None = None,
        active: Mapping[str, int] | None = None,
        paused: Iterable[str] = (),
        clock: Callable[[], datetime] | None = None,
        strict: bool = False,
    ) -> None:
        self.guardrails = g = guardrails or Guardrails()
        registry = plugins if plugins is not None else default_plugins
        self._versions: dict[tuple[str, int], CompiledJourney] = {}
        for journey in journeys:
            key = (journey.id, journey.version)
            if key in self._versions:
                raise ConfigurationError(f"journey {journey.id} version {journey.version} is given twice")
            self._versions[key] = CompiledJourney(journey, g, registry)

        latest: dict[str, int] = {}
        for jid, version in self._versions:
            latest[jid] = max(version, latest.get(jid, 0))
        chosen = dict(active) if active is not None else latest
        for jid, version in chosen.items():
            if (jid, version) not in self._versions:
                raise ConfigurationError(f"active version {version} of journey {jid} is not among the journeys given")
        self._live: list[CompiledJourney] = [self._versions[(j, chosen[j])] for j in sorted(chosen)]
        self._paused = frozenset(paused)

        self._entries_by_type: dict[str, list[CompiledJourney]] = {}
        self._schedules: list[CompiledJourney] = []
        for cj in self._live:
            if cj.entry_type is not None:
                self._entries_by_type.setdefault(cj.entry_type, []).append(cj)
            else:
                self._schedules.append(cj)

        counters: dict[str, dict[str, int]] = {}
        for cj in self._versions.values():
            for key in cj.counter_keys:
                event_type, window = ctr.parse_counter_key(key)
                counters.setdefault(event_type, {})[key] = window
        self._counters_by_type: dict[str, tuple[tuple[str, int, int], ...]] = {
            t: tuple((key, window, ctr.bucket_width(window)) for key, window in sorted(windows.items()))
            for t, windows in counters.items()
        }
        #: counter key -> window (ms): the counters still read (pruning keeps only these).
        self._counter_keys: dict[str, int] = {k: w for windows in counters.values() for k, w in windows.items()}

        self._global_caps: tuple[CCap, ...] = compile_caps(list(g.caps))
        longest_cap = max(
            [c.per_ms for c in self._global_caps] + [c.per_ms for cj in self._versions.values() for c in cj.caps],
            default=0,
        )
        self._retention = Retention(
            cap_window_ms=longest_cap,
            seen_max=g.event_id_memory,
            seen_horizon_ms=ms(g.event_id_horizon),
            idle_ttl_ms=ms(g.idle_ttl) if g.idle_ttl is not None else None,
            erased_ttl_ms=ms(g.erased_ttl) if g.erased_ttl is not None else None,
        )
        self._once_only = frozenset(
            cj.id for cj in self._versions.values() if cj.policy is ReentryPolicy.NEVER
        )
        self._default_tz: ZoneInfo = try_zone(g.default_tz) or ZoneInfo("UTC")
        self._action_ttl_ms = ms(g.action_ttl) if g.action_ttl is not None else None
        self._recheck_ms = ms(g.paused_recheck)
        self._opt_in: dict[tuple[str, str], bool] = {}
        self._clock = clock or _wall_clock
        self._slot_cache: dict[tuple[Any, ...], int] = {}
        self._dt_cache: dict[int, datetime] = {}
        self._strict = strict
        self._max_steps = g.max_steps
        self._visitors: dict[type, Callable[..., str | None]] = {
            CAction: self._visit_action,
            CWait: self._visit_wait,
            CWaitFor: self._visit_wait_for,
            CWaitUntil: self._visit_wait_until,
            CBranch: self._visit_branch,
            CSplit: self._visit_split,
            CUpdateProfile: self._visit_update_profile,
            CExit: self._visit_exit,
        }

        react: set[str] = set()
        for cj in self._versions.values():
            react |= set(cj.goals) | set(cj.exit_on) | cj.wait_for_types
        #: Event types a live instance can react to (a goal, an `exit_on`, a `wait_for`).
        self._react_types = frozenset(react)
        types: set[str] = set(self._entries_by_type) | set(self._counters_by_type) | react
        types |= {USER_DELETED, CONSENT_UPDATED, SUPPRESSION_UPDATED, MESSAGE_UNSUBSCRIBED, *DELIVERY_FAILURES}
        self.relevant_event_types: frozenset[str] = frozenset(types)
        """Event types that can change anything; the job may drop others (except `identify`/traits)."""

    @classmethod
    def from_plan(cls, plan: CompiledPlan, guardrails: Guardrails | None = None, **kwargs: Any) -> Interpreter:
        """An interpreter over a compiled plan: its active versions take entries, paused journeys
        hold, retired versions run on for the users inside them."""
        from jobs.compiler.plan import JourneyStatus

        active = {
            pj.journey_id: pj.version
            for pj in plan.journeys
            if pj.status in (JourneyStatus.ACTIVE, JourneyStatus.PAUSED)
        }
        paused = {pj.journey_id for pj in plan.journeys if pj.status is JourneyStatus.PAUSED}
        return cls([pj.journey for pj in plan.journeys], guardrails, active=active, paused=paused, **kwargs)

    # --- public API -------------------------------------------------------------------------

    @property
    def retention(self) -> Retention:
        """The retention limits the interpreter prunes records with."""
        return self._retention

    def journey(self, journey_id: str, version: int) -> CompiledJourney | None:
        """The compiled journey version, if known."""
        return self._versions.get((journey_id, version))

    def on_event(self, state: UserState | None, event: Event) -> Step:
        """Process one event for `event.user_id`. Takes ownership of `state` (mutated in place)."""
        s = state if state is not None else UserState()
        ts = to_ms(event.ts)
        etype = event.type
        if s.erased_at is not None:
            return self._unchanged_state(s, ts)
        if etype not in self.relevant_event_types and not event.traits and (
            not event.context.tz or event.context.tz == s.tz
        ):
            # Nothing here can change: no journey, counter or guardrail reads this type, and it
            # brings no traits. Not even remembered (a repeat changes nothing either); deadlines
            # that passed are left to their timer, which gives the same result.
            return self._unchanged_state(s, ts)
        digest = event_id_digest(event.event_id)
        seen = s.seen
        # Only ids seen within the horizon (in event time) count, whether or not pruning has
        # dropped the older ones yet: the answer must not depend on when timers fired.
        if digest in seen:  # C-speed membership first; then check it is a digest, recent enough
            oldest = (ts - self._retention.seen_horizon_ms) // 1000
            for i in range(0, len(seen), 2):
                if seen[i] == digest and seen[i + 1] > oldest:
                    return self._unchanged_state(s, ts)
        seen.append(digest)
        seen.append(ts // 1000)
        if ts > s.last_seen:
            s.last_seen = ts

        # The run (records, instances that end) is set up only when something can happen beyond
        # absorbing the event: most events only count, remember their id and maybe bring traits.
        r: _Run | None = None
        # Deadlines up to this event's time run as their timers would have: not caused by it. Ties
        # included, since the watermark may already have fired a timer due at exactly `ts`.
        if self._any_due(s, ts):
            r = _Run(s, event.user_id, event)
            r.event_id = None
            self._process_due(r, ts, inclusive=True)
            r.event_id = event.event_id
        if etype == USER_DELETED:
            r = r or _Run(s, event.user_id, event)
            self._erase(r, ts)
            return self._finish(r, ts)
        self._absorb(s, event, ts)
        if etype in DELIVERY_FAILURES:
            r = r or _Run(s, event.user_id, event)
            self._on_delivery_failure(r, event, ts)
        if s.instances and (etype in self._react_types or self._any_unknown_version(s)):
            r = r or _Run(s, event.user_id, event)
            self._react(r, event, ts)
        if etype in self._entries_by_type:
            r = r or _Run(s, event.user_id, event)
            self._enter(r, event, ts)
        for cj in self._schedules:
            if cj.id not in s.schedule:
                s.schedule[cj.id] = ts
        if r is None:
            prune(s, ts, self._retention, self._counter_keys)
            return Step(s, True, [], [], [], None, self._wakeup(s, ts))
        return self._finish(r, ts)

    def on_timer(self, state: UserState | None, user_id: str, now: datetime) -> Step:
        """Process everything due for `user_id` at or before `now` (event time), in deadline order."""
        if state is None:
            return Step(state=None)
        r = _Run(state, user_id, None)
        now_ms = to_ms(now)
        s = state
        expiry = expires_at(s, self._retention, self._once_only)
        if s.erased_at is not None:
            if expiry is not None and expiry <= now_ms:
                return Step(state=None, changed=True)
            return self._unchanged(r, now_ms)
        done = self._process_due(r, now_ms, inclusive=True) if self._any_due(s, now_ms) else 0
        if done:
            step = self._finish(r, now_ms)
            s = r.state
        else:
            step = r.step
        expiry = expires_at(s, self._retention, self._once_only)
        if expiry is not None and expiry <= now_ms:
            kept = compact(s, self._once_only)
            step.state = kept
            step.changed = True
            step.wakeup = self._wakeup(kept, now_ms) if kept is not None else None
            return step
        if not done:
            step.wakeup = self._wakeup(s, now_ms)
        return step

    def next_wakeup(self, state: UserState | None, now: datetime | None = None) -> datetime | None:
        """The earliest time anything is due for this user: the one timer the adapter keeps."""
        if state is None:
            return None
        return self._wakeup(state, to_ms(now) if now is not None else state.last_seen)

    # --- steps ------------------------------------------------------------------------------

    def _unchanged_state(self, s: UserState, now_ms: int) -> Step:
        return Step(s, False, [], [], [], None, self._wakeup(s, now_ms))

    def _unchanged(self, r: _Run, now_ms: int) -> Step:
        r.step.wakeup = self._wakeup(r.state, now_ms)
        return r.step

    def _finish(self, r: _Run, now_ms: int) -> Step:
        s = r.state
        if r.gone:
            s.instances = [i for i in s.instances if id(i) not in r.gone]
        prune(s, now_ms, self._retention, self._counter_keys)
        step = r.step
        step.state = s
        step.changed = True
        step.wakeup = self._wakeup(s, now_ms)
        return step

    def _when(self, value: int) -> datetime:
        """`to_dt` for wake-up times, remembered: the adapter asks for a user's wake-up before each
        step, and it is mostly the one the user's last step returned (bounded; cleared when full)."""
        cache = self._dt_cache
        dt = cache.get(value)
        if dt is None:
            if len(cache) >= _DT_CACHE_MAX:
                cache.clear()
            dt = cache[value] = to_dt(value)
        return dt

    def _wakeup(self, s: UserState, now_ms: int) -> datetime | None:
        best: int | None = None
        if s.erased_at is None:
            instances = s.instances
            fallbacks = s.fallbacks
            for inst in instances:
                d = inst.deadline
                if best is None or d < best:
                    best = d
            for f in fallbacks:
                if f.due and (best is None or f.due < best):
                    best = f.due
            for cj in self._schedules:
                slot = self._next_slot(s, cj)
                if slot is not None and (best is None or slot < best):
                    best = slot
            # expires_at(), inline: idle expiry once nothing is in flight and the record can shrink.
            idle = self._retention.idle_ttl_ms
            if not instances and not fallbacks and idle is not None and not is_compact(s, self._once_only):
                expiry = s.last_seen + idle
                if best is None or expiry < best:
                    best = expiry
        else:
            expiry = expires_at(s, self._retention, self._once_only)
            if expiry is not None:
                best = expiry
        return self._when(best) if best is not None else None

    def _next_slot(self, s: UserState, cj: CompiledJourney) -> int | None:
        cursor = s.schedule.get(cj.id)
        if cursor is None or cj.schedule_at is None or cj.id in self._paused:
            return None
        # The next slot is a pure function of (journey, cursor, zone), asked for several times per
        # step and again on the user's next event: remember it (bounded; cleared when full). The
        # user's zone comes from `tz` and the `tz` trait, so those stand in for it in the key.
        if cj.schedule_tz is not None:
            key: tuple[Any, ...] = (cursor, cj)
        else:
            key = (cursor, cj, s.tz, s.profile.get("tz"))
        cache = self._slot_cache
        slot = cache.get(key)
        if slot is None:
            tz = cj.schedule_tz or self._user_tz(s, cj)
            slot = to_ms(next_local_time(to_dt(cursor), cj.schedule_at, tz, cj.schedule_days))
            if len(cache) >= _SLOT_CACHE_MAX:
                cache.clear()
            cache[key] = slot
        return slot

    def _any_due(self, s: UserState, limit: int) -> bool:
        """Whether `_process_due(limit, inclusive=True)` may have anything to do (cheap, no false "no")."""
        for inst in s.instances:
            if inst.deadline <= limit:
                return True
        for f in s.fallbacks:
            if f.due and f.due <= limit:
                return True
        for cj in self._schedules:
            slot = self._next_slot(s, cj)
            if slot is not None and slot <= limit:
                return True
        return False

    def _any_unknown_version(self, s: UserState) -> bool:
        """Whether an instance runs a journey version this interpreter does not have (it stops)."""
        versions = self._versions
        for inst in s.instances:  # noqa: SIM110 — a plain loop: no generator frame on the hot path
            if (inst.journey_id, inst.version) not in versions:
                return True
        return False

    def _process_due(self, r: _Run, limit: int, *, inclusive: bool) -> int:
        """Run everything due before (or at, if `inclusive`) `limit`, earliest first."""
        done = 0
        if self._paused:
            # Instances of a paused journey stay put: their passed deadlines move to a re-check,
            # so after `resume` they continue within `paused_recheck`, at a current event time.
            for inst in r.state.instances:
                passed = inst.deadline < limit or (inclusive and inst.deadline == limit)
                if passed and inst.journey_id in self._paused:
                    inst.deadline = limit + self._recheck_ms
                    done += 1
        while done < _MAX_DUE_PER_STEP:
            item = self._earliest_due(r, limit, inclusive)
            if item is None:
                break
            t, obj = item
            done += 1
            if isinstance(obj, Instance):
                self._resume(r, obj, t)
            elif isinstance(obj, PendingFallback):
                self._send_fallback(r, obj, t)
            else:
                self._schedule_entry(r, obj, t)
        return done

    def _earliest_due(
        self, r: _Run, limit: int, inclusive: bool
    ) -> tuple[int, Instance | PendingFallback | CompiledJourney] | None:
        s = r.state
        best: tuple[int, Instance | PendingFallback | CompiledJourney] | None = None
        for inst in s.instances:
            d = inst.deadline
            if (d < limit or (inclusive and d == limit)) and id(inst) not in r.gone:
                if inst.journey_id in self._paused:
                    continue
                if best is None or d < best[0]:
                    best = (d, inst)
        for f in s.fallbacks:
            d = f.due
            due = d and (d < limit or (inclusive and d == limit))
            if due and (best is None or d < best[0]) and f.journey_id not in self._paused:
                best = (d, f)
        for cj in self._schedules:
            slot = self._next_slot(s, cj)
            due = slot is not None and (slot < limit or (inclusive and slot == limit))
            if due and (best is None or slot < best[0]):  # type: ignore[operator]
                best = (slot, cj)  # type: ignore[assignment]
        return best

    # --- absorbing an event -----------------------------------------------------------------

    def _absorb(self, s: UserState, event: Event, ts: int) -> None:
        traits = event.traits
        if traits:
            profile = s.profile
            for k, v in traits.items():
                if v is None:
                    profile.pop(k, None)
                else:
                    profile[k] = v
        tz = event.context.tz
        if tz and tz != s.tz and try_zone(tz) is not None:
            s.tz = tz
        t = event.type
        windows = self._counters_by_type.get(t)
        if windows:
            counters = s.counters
            for key, window, width in windows:
                buckets = counters.get(key)
                if buckets is None:
                    counters[key] = [ts // width, 1]
                elif buckets and buckets[-2] == ts // width:  # in time order, same bucket: the usual case
                    buckets[-1] += 1
                else:
                    ctr.add(buckets, ts, window)
        if t not in _ABSORBED:
            return
        if t == CONSENT_UPDATED:
            status = event.props.get("status")
            if status in ("opted_in", "opted_out"):
                self._set_consent(s, event.props.get("channel"), event.props.get("category"), status == "opted_in")
        elif t == SUPPRESSION_UPDATED:
            status = event.props.get("status")
            if status == "suppressed":
                s.suppressed = True
            elif status == "unsuppressed":
                s.suppressed = False
        elif t == MESSAGE_UNSUBSCRIBED:
            channel = event.props.get("channel")
            if isinstance(channel, str) and channel:
                self._set_consent(s, channel, event.props.get("category") or "marketing", False)

    @staticmethod
    def _set_consent(s: UserState, channel: Any, category: Any, opted_in: bool) -> None:
        ch = channel if isinstance(channel, str) and channel else "*"
        cat = category if isinstance(category, str) and category else "*"
        consent = s.consent
        # A broader choice made later replaces the narrower ones it covers: opting back in to all
        # of email must not stay blocked by an older opt-out of email marketing.
        if ch == "*" or cat == "*":
            for key in list(consent):
                kch, _, kcat = key.partition(":")
                if (ch == "*" or kch == ch) and (cat == "*" or kcat == cat):
                    del consent[key]
        consent[f"{ch}:{cat}"] = opted_in

    def _consent_ok(self, s: UserState, channel: str, category: str) -> bool:
        consent = s.consent
        if consent:
            for key in (f"{channel}:{category}", f"{channel}:*", f"*:{category}", "*:*"):
                v = consent.get(key)
                if v is not None:
                    return v
        need = self._opt_in.get((channel, category))
        if need is None:
            need = self._opt_in[(channel, category)] = self.guardrails.requires_opt_in(channel, category)
        return not need

    def _erase(self, r: _Run, ts: int) -> None:
        for inst in r.state.instances:
            if id(inst) not in r.gone:
                self._outcome(r, inst.journey_id, inst.version, inst.node, OutcomeKind.EXITED,
                              ExitReason.ERASED.value, inst.entry, None, ts)
        r.gone.clear()
        r.state = UserState(erased_at=ts)
        r.step.erasure = Erasure(r.user_id, to_dt(ts))

    # --- instances reacting to an event -----------------------------------------------------

    def _react(self, r: _Run, event: Event, ts: int) -> None:
        s = r.state
        etype = event.type
        for inst in list(s.instances):
            if id(inst) in r.gone or ts < inst.entered_at:
                continue
            cj = self._versions.get((inst.journey_id, inst.version))
            if cj is None:
                self._exit(r, inst, ExitReason.STOPPED.value, ts)
                continue
            goals = cj.goals.get(etype)
            exits = cj.exit_on.get(etype)
            waiting = inst.waiting is Waiting.EVENT and etype in cj.wait_for_types
            if not (goals or exits or waiting):
                continue
            ctx = EvalContext(s, r.user_id, ts, event, etype, event.props, inst, cj)
            if goals:
                leave = False
                for goal in goals:
                    if goal.where(ctx):
                        self._outcome(r, cj.id, cj.version, inst.node, OutcomeKind.CONVERTED, goal.label,
                                      inst.entry, None, ts)
                        leave = leave or goal.exit
                if leave:
                    self._exit(r, inst, ExitReason.GOAL.value, ts)
                    continue
            if exits and any(p(ctx) for p in exits):
                self._exit(r, inst, ExitReason.EXIT_ON.value, ts)
                continue
            if waiting and inst.journey_id not in self._paused:
                node = cj.nodes.get(inst.node)
                if isinstance(node, CWaitFor) and node.event_type == etype and self._matches(r, cj, inst, node, ctx):
                    self._outcome(r, cj.id, cj.version, node.id, OutcomeKind.BRANCH, "on_event", inst.entry, None, ts)
                    self._run_guarded(r, cj, inst, node.on_event, ts)

    def _matches(self, r: _Run, cj: CompiledJourney, inst: Instance, node: CWaitFor, ctx: EvalContext) -> bool:
        props = ctx.props
        if node.match_node is not None:
            aid = props.get("action_id")
            if isinstance(aid, str):
                try:
                    j, v, u, node_part, e = parse_action_id(aid)
                except ValueError:
                    return False
                target = node.match_node
                if not (j == cj.id and v == cj.version and u == r.user_id and e == inst.entry):
                    return False
                if node_part != target and not node_part.startswith((target + "#", target + FALLBACK_SUFFIX)):
                    return False
            elif props.get("journey_id") != cj.id or props.get("node_id") != node.match_node:
                return False
        for key, value in node.match_props:
            if props.get(key) != value:
                return False
        return node.where(ctx)

    # --- entries ----------------------------------------------------------------------------

    def _enter(self, r: _Run, event: Event, ts: int) -> None:
        candidates = self._entries_by_type.get(event.type)
        if not candidates:
            return
        for cj in candidates:
            if cj.trigger == "segment" and event.props.get("segment") != cj.segment:
                continue
            if cj.trigger == "api" and event.props.get("journey_id") != cj.id:
                continue
            if cj.id in self._paused or not cj.in_window(ts) or not self._may_enter(r, cj, ts):
                continue
            ctx = EvalContext(r.state, r.user_id, ts, event, event.type, event.props, None, cj)
            if cj.entry_where(ctx):
                self._start(r, cj, ts, event.props)

    def _schedule_entry(self, r: _Run, cj: CompiledJourney, slot: int) -> None:
        r.state.schedule[cj.id] = slot
        if cj.id in self._paused or not cj.in_window(slot) or not self._may_enter(r, cj, slot):
            return
        ctx = EvalContext(r.state, r.user_id, slot, None, "", {}, None, cj)
        if cj.entry_where(ctx):
            self._start(r, cj, slot, {})

    def _may_enter(self, r: _Run, cj: CompiledJourney, ts: int) -> bool:
        log = r.state.entries.get(cj.id)
        if log is None:
            return True
        policy = cj.policy
        if policy is ReentryPolicy.NEVER:
            return False
        if policy is ReentryPolicy.AFTER:
            for inst in r.state.instances:
                if inst.journey_id == cj.id and id(inst) not in r.gone:
                    return False
            return ts >= log[ENTRY_LAST_AT] + cj.cooldown_ms
        return True

    def _start(self, r: _Run, cj: CompiledJourney, ts: int, props: dict[str, Any]) -> None:
        s = r.state
        log = s.entries.get(cj.id)
        number = (log[ENTRY_COUNT] if log is not None else 0) + 1
        s.entries[cj.id] = EntryLog(number, ts)
        holdout = in_holdout(r.user_id, cj.id, cj.holdout_percent)
        inst = Instance(cj.id, cj.version, number, cj.start, ts, Waiting.TIMER, ts, props, holdout)
        s.instances.append(inst)
        self._outcome(r, cj.id, cj.version, cj.start, OutcomeKind.ENTERED, "holdout" if holdout else None,
                      number, None, ts)
        self._run_guarded(r, cj, inst, cj.start, ts)

    # --- running nodes ----------------------------------------------------------------------

    def _resume(self, r: _Run, inst: Instance, t: int) -> None:
        cj = self._versions.get((inst.journey_id, inst.version))
        node = cj.nodes.get(inst.node) if cj is not None else None
        if cj is None or node is None:
            self._exit(r, inst, ExitReason.STOPPED.value, t)
            return
        waiting = inst.waiting
        if waiting is Waiting.DEFERRED and isinstance(node, CAction):
            def resume_action() -> str | None:
                return self._run(r, cj, inst, self._act(r, cj, inst, node, t, resumed=True), t)

            self._guarded(r, inst, resume_action, t)
            return
        if isinstance(node, CWaitFor):
            self._outcome(r, cj.id, cj.version, node.id, OutcomeKind.BRANCH, "on_timeout", inst.entry, None, t)
            nxt = node.on_timeout
        elif isinstance(node, CWait | CWaitUntil):
            nxt = node.next
        else:
            self._exit(r, inst, ExitReason.ERROR.value, t, detail=f"cannot resume at node {node.id}")
            return
        self._run_guarded(r, cj, inst, nxt, t)

    def _run_guarded(self, r: _Run, cj: CompiledJourney, inst: Instance, node_id: str, t: int) -> None:
        try:
            self._run(r, cj, inst, node_id, t)
        except Exception as exc:
            self._failed(r, inst, exc, t)

    def _guarded(self, r: _Run, inst: Instance, fn: Callable[[], str | None], t: int) -> None:
        try:
            fn()
        except Exception as exc:
            self._failed(r, inst, exc, t)

    def _failed(self, r: _Run, inst: Instance, exc: Exception, t: int) -> None:
        if self._strict:
            raise exc
        message = f"{type(exc).__name__}: {exc}"[:_ERROR_DETAIL_MAX]
        self._outcome(r, inst.journey_id, inst.version, inst.node, OutcomeKind.ERROR, message, inst.entry, None, t)
        if id(inst) not in r.gone:
            self._exit(r, inst, ExitReason.ERROR.value, t)

    def _run(self, r: _Run, cj: CompiledJourney, inst: Instance, node_id: str | None, t: int) -> str | None:
        steps = 0
        limit = self._max_steps
        nodes = cj.nodes
        kinds = cj.kinds
        visitors = self._visitors
        while node_id is not None:
            steps += 1
            if steps > limit:
                raise StepLimitExceeded(
                    f"journey {cj.id}: more than {limit} nodes in one step at node {node_id} (a cycle without a wait?)"
                )
            node = nodes.get(node_id)
            if node is None:
                raise InterpreterError(f"journey {cj.id}: node {node_id!r} does not exist")
            inst.node = node_id
            self._outcome(r, cj.id, cj.version, node_id, OutcomeKind.NODE, kinds[node_id], inst.entry, None, t)
            visit = visitors.get(type(node))
            if visit is None:
                raise InterpreterError(f"journey {cj.id}: node {getattr(node, 'id', '?')} has no handler")
            node_id = visit(r, cj, inst, node, t)
        return None

    # One handler per compiled node class (dispatch by type, not a chain of isinstance checks).

    def _visit_action(self, r: _Run, cj: CompiledJourney, inst: Instance, node: CAction, t: int) -> str | None:
        return self._act(r, cj, inst, node, t, resumed=False)

    def _visit_wait(self, r: _Run, cj: CompiledJourney, inst: Instance, node: CWait, t: int) -> str | None:
        inst.waiting = Waiting.TIMER
        inst.deadline = t + node.duration_ms
        return None

    def _visit_wait_for(self, r: _Run, cj: CompiledJourney, inst: Instance, node: CWaitFor, t: int) -> str | None:
        inst.waiting = Waiting.EVENT
        inst.deadline = t + node.timeout_ms
        return None

    def _visit_wait_until(self, r: _Run, cj: CompiledJourney, inst: Instance, node: CWaitUntil, t: int) -> str | None:
        tz = node.tz or self._user_tz(r.state, cj)
        inst.waiting = Waiting.TIMER
        inst.deadline = to_ms(next_local_time(to_dt(t), node.at, tz, node.days))
        return None

    def _visit_branch(self, r: _Run, cj: CompiledJourney, inst: Instance, node: CBranch, t: int) -> str | None:
        ctx = EvalContext(r.state, r.user_id, t, None, cj.entry_type or "", inst.event, inst, cj)
        for label, pred, nxt in node.cases:
            if pred(ctx):
                self._outcome(r, cj.id, cj.version, node.id, OutcomeKind.BRANCH, label, inst.entry, None, t)
                return nxt
        self._outcome(r, cj.id, cj.version, node.id, OutcomeKind.BRANCH, "default", inst.entry, None, t)
        return node.default

    def _visit_split(self, r: _Run, cj: CompiledJourney, inst: Instance, node: CSplit, t: int) -> str | None:
        i = cj.pick(r.user_id, node)
        self._outcome(r, cj.id, cj.version, node.id, OutcomeKind.SPLIT, node.names[i], inst.entry, None, t)
        return node.nexts[i]

    def _visit_update_profile(
        self, r: _Run, cj: CompiledJourney, inst: Instance, node: CUpdateProfile, t: int
    ) -> str | None:
        self._update_profile(r, cj, node, t)
        return node.next

    def _visit_exit(self, r: _Run, cj: CompiledJourney, inst: Instance, node: CExit, t: int) -> str | None:
        self._exit(r, inst, ExitReason.COMPLETED.value, t)
        return None

    def _update_profile(self, r: _Run, cj: CompiledJourney, node: CUpdateProfile, t: int) -> None:
        profile = r.state.profile
        for k, v in node.set.items():
            profile[k] = v
        for k in node.unset:
            profile.pop(k, None)
        for k, by in node.increment.items():
            current = profile.get(k)
            base = current if isinstance(current, int | float) and not isinstance(current, bool) else 0
            total = base + by
            profile[k] = int(total) if float(total).is_integer() else total
        r.step.profile_updates.append(
            ProfileUpdate(r.user_id, cj.id, node.id, dict(node.set), node.unset, dict(node.increment), to_dt(t))
        )

    def _exit(self, r: _Run, inst: Instance, reason: str, t: int, *, detail: str | None = None) -> None:
        if detail is not None:
            self._outcome(r, inst.journey_id, inst.version, inst.node, OutcomeKind.ERROR, detail, inst.entry, None, t)
        self._outcome(r, inst.journey_id, inst.version, inst.node, OutcomeKind.EXITED, reason, inst.entry, None, t)
        r.gone.add(id(inst))

    def _user_tz(self, s: UserState, cj: CompiledJourney) -> ZoneInfo:
        return try_zone(s.tz) or try_zone(s.profile.get("tz")) or cj.tz

    # --- actions ----------------------------------------------------------------------------

    def _act(self, r: _Run, cj: CompiledJourney, inst: Instance, node: CAction, t: int, *, resumed: bool) -> str | None:
        node_part = node.id
        if node.in_cycle:
            visits = inst.visits if inst.visits is not None else {}
            if not resumed:
                visits[node.id] = visits.get(node.id, 0) + 1
            inst.visits = visits
            visit = visits.get(node.id, 1)
            if visit > 1:
                node_part = f"{node.id}#{visit}"
        aid = make_action_id(cj.id, cj.version, r.user_id, node_part, inst.entry)
        draft = node.draft

        def suppressed(reason: SuppressionReason, action_id: str = aid) -> str:
            self._outcome(r, cj.id, cj.version, node.id, OutcomeKind.SUPPRESSED, reason.value, inst.entry, action_id, t)
            return node.next

        if inst.holdout:
            return suppressed(SuppressionReason.HOLDOUT)
        if not cj.in_window(t):
            return suppressed(SuppressionReason.SCHEDULE)
        if not draft.is_message:
            self._emit(r, cj, inst.entry, node.id, aid, draft, t, inst.event, None)
            return node.next
        s = r.state
        if s.suppressed:
            return suppressed(SuppressionReason.SUPPRESSION_LIST)
        quiet = cj.quiet
        if quiet is not None and not draft.transactional:
            end = quiet_until(to_dt(t), quiet.start, quiet.end, quiet.tz or self._user_tz(s, cj))
            if end is not None:
                if not quiet.defer:
                    return suppressed(SuppressionReason.QUIET_HOURS)
                inst.waiting = Waiting.DEFERRED
                inst.deadline = to_ms(end)
                self._outcome(r, cj.id, cj.version, node.id, OutcomeKind.NODE,
                              f"deferred:quiet_hours until {end.isoformat()}", inst.entry, aid, t)
                return None
        fb_aid = make_action_id(cj.id, cj.version, r.user_id, node_part + FALLBACK_SUFFIX, inst.entry)
        chosen: ActionDraft | None = None
        chosen_aid = aid
        for candidate, candidate_aid in ((draft, aid), (node.fallback, fb_aid)):
            if candidate is None:
                continue
            blocked = self._channel_block(s, candidate)
            if blocked is not None:
                suppressed(blocked, candidate_aid)
                continue
            chosen, chosen_aid = candidate, candidate_aid
            break
        if chosen is None:
            return node.next
        if not chosen.transactional and self._capped(s, cj.id, cj.caps, chosen.channel, t):
            return suppressed(SuppressionReason.CAP, chosen_aid)
        is_primary = chosen is draft
        fallback_channel = node.fallback.channel if is_primary and node.fallback is not None else None
        self._emit(r, cj, inst.entry, node.id, chosen_aid, chosen, t, inst.event, fallback_channel)
        if is_primary and node.fallback is not None and node.fallback_window_ms > 0:
            s.fallbacks.append(
                PendingFallback(aid, cj.id, cj.version, inst.entry, node.id, t + node.fallback_window_ms, inst.event)
            )
        return node.next

    def _channel_block(self, s: UserState, d: ActionDraft) -> SuppressionReason | None:
        if not self._consent_ok(s, d.channel, d.category):
            return SuppressionReason.CONSENT
        if d.address_trait is not None:
            address = s.profile.get(d.address_trait)
            if not isinstance(address, str) or not address.strip():
                return SuppressionReason.NO_ADDRESS
        return None

    def _capped(self, s: UserState, journey_id: str, caps: tuple[CCap, ...], channel: str, t: int) -> bool:
        # A send at t is allowed only if every window of `per` that contains t would stay within
        # `max`: counting sends within `per` on either side keeps that true even when a late
        # event makes sends arrive out of time order.
        sends = s.sends
        if not sends:
            return False
        for scope, rules in ((None, self._global_caps), (journey_id, caps)):
            for cap in rules:
                if cap.channel is not None and cap.channel != channel:
                    continue
                n = 0
                for send in sends:
                    if abs(send[SEND_TS] - t) >= cap.per_ms:
                        continue
                    if cap.channel is not None and send[SEND_CHANNEL] != cap.channel:
                        continue
                    if scope is not None and send[SEND_JOURNEY] != scope:
                        continue
                    n += 1
                if n >= cap.max:
                    return True
        return False

    def _emit(
        self,
        r: _Run,
        cj: CompiledJourney,
        entry: int,
        node_id: str,
        aid: str,
        draft: ActionDraft,
        t: int,
        props: dict[str, Any],
        fallback_channel: str | None,
    ) -> None:
        s = r.state
        to: dict[str, str] = {}
        if draft.address_trait is not None:
            to[draft.address_trait] = str(s.profile.get(draft.address_trait))
        when = r.when(t)
        emitted_at = r.emitted_at
        if emitted_at is None:
            emitted_at = r.emitted_at = self._clock()
        record = trusted(ActionRecord, {
            "action_id": aid,
            "journey_id": cj.id,
            "version": cj.version,
            "node_id": node_id,
            "user_id": r.user_id,
            "channel": draft.channel,
            "template": draft.template,
            "category": draft.category,
            "priority": draft.priority,
            "vars": {"profile": dict(s.profile), "event": props},
            "to": to,
            "fallback": fallback_channel,
            "not_after": to_dt(t + self._action_ttl_ms) if self._action_ttl_ms is not None else None,
            "trigger_event_id": r.event_id,
            "params": dict(draft.params),
            "ts": when,
            "emitted_at": emitted_at,
        })
        r.step.actions.append(record)
        self._outcome(r, cj.id, cj.version, node_id, OutcomeKind.ACTION, draft.channel, entry, aid, t)
        if draft.is_message and not draft.transactional:
            s.sends.append(Send(t, draft.channel, cj.id))

    # --- fallbacks --------------------------------------------------------------------------

    def _on_delivery_failure(self, r: _Run, event: Event, ts: int) -> None:
        aid = event.props.get("action_id")
        if not isinstance(aid, str):
            return
        for pf in list(r.state.fallbacks):
            if pf.action_id == aid and not pf.due and ts < pf.expires and pf.journey_id not in self._paused:
                self._send_fallback(r, pf, ts)

    def _send_fallback(self, r: _Run, pf: PendingFallback, t: int) -> None:
        s = r.state
        s.fallbacks = [f for f in s.fallbacks if f is not pf]
        cj = self._versions.get((pf.journey_id, pf.version))
        node = cj.nodes.get(pf.node) if cj is not None else None
        if cj is None or not isinstance(node, CAction) or node.fallback is None:
            return
        fb = node.fallback
        j, v, u, node_part, e = parse_action_id(pf.action_id)
        fb_aid = make_action_id(j, v, u, node_part + FALLBACK_SUFFIX, e)

        def suppressed(reason: SuppressionReason) -> None:
            self._outcome(r, cj.id, cj.version, pf.node, OutcomeKind.SUPPRESSED, reason.value, pf.entry, fb_aid, t)

        if not cj.in_window(t):
            return suppressed(SuppressionReason.SCHEDULE)
        if s.suppressed:
            return suppressed(SuppressionReason.SUPPRESSION_LIST)
        quiet = cj.quiet
        if quiet is not None and not fb.transactional:
            end = quiet_until(to_dt(t), quiet.start, quiet.end, quiet.tz or self._user_tz(s, cj))
            if end is not None:
                if not quiet.defer:
                    return suppressed(SuppressionReason.QUIET_HOURS)
                pf.due = to_ms(end)
                s.fallbacks.append(pf)
                self._outcome(r, cj.id, cj.version, pf.node, OutcomeKind.NODE,
                              f"deferred:quiet_hours until {end.isoformat()}", pf.entry, fb_aid, t)
                return None
        blocked = self._channel_block(s, fb)
        if blocked is not None:
            return suppressed(blocked)
        if not fb.transactional and self._capped(s, cj.id, cj.caps, fb.channel, t):
            return suppressed(SuppressionReason.CAP)
        self._emit(r, cj, pf.entry, pf.node, fb_aid, fb, t, pf.event, None)
        return None

    # --- records ----------------------------------------------------------------------------

    def _outcome(
        self,
        r: _Run,
        journey_id: str,
        version: int,
        node_id: str | None,
        kind: OutcomeKind,
        detail: str | None,
        entry: int | None,
        action_id: str | None,
        t: int,
    ) -> None:
        emitted_at = r.emitted_at
        if emitted_at is None:
            emitted_at = r.emitted_at = self._clock()
        r.step.outcomes.append(
            trusted(OutcomeRecord, {
                "journey_id": journey_id,
                "version": version,
                "user_id": r.user_id,
                "node_id": node_id,
                "kind": kind,
                "detail": detail,
                "entry": entry,
                "action_id": action_id,
                "event_id": r.event_id,
                "ts": r.when(t),
                "emitted_at": emitted_at,
            })
        )
