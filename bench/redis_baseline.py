"""What a team would build without Flink: one Python process, Kafka in and out, state in Redis.

    .venv/bin/python -m bench.redis_baseline --topic PREFIX.events --prefix PREFIX. [--seconds 45]

The same library journeys through the same interpreter core (`operators.core`), made as fast as
one process can go: batches of up to 2,000 records per poll; the event type read from the raw
bytes so events no journey reads are dropped before any parsing (what the job's JVM filter
does); relevant events validated once (`Event.model_validate_json`, as the job's adapter does);
the batch's user states fetched with one MGET; each user's one timer kept in a Redis sorted
set (score = due time); the batch's writes (SET/DEL, ZADD/ZREM) sent in one pipeline; then every
timer due before the watermark (newest event time minus the allowed out-of-orderness) fired, in
batches of 5,000; actions and outcomes produced to the same topics as the job's (kafka-python,
batched with linger); offsets committed after the writes (at least once, like the job without
exactly-once sinks). Time is split per stage, so the result says where it goes.
"""

from __future__ import annotations

import argparse
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from connectors import topics
from jobs.settings import Settings
from operators.core import Interpreter, to_dt, to_ms
from state import codec

TYPE_MARK = b'"type":"'


@dataclass
class Totals:
    """Counts and seconds per stage of one baseline run."""

    consumed: int = 0
    relevant: int = 0
    timers: int = 0
    actions: int = 0
    outcomes: int = 0
    first: float = 0.0
    last: float = 0.0
    stages: dict[str, float] = field(default_factory=lambda: dict.fromkeys(
        ("poll", "filter_parse", "redis_read", "interpreter", "serialize_produce", "redis_write", "timers"), 0.0))


class Baseline:
    """The consumer loop (see the module docstring)."""

    def __init__(self, settings: Settings, plan: Any, topic: str, out_prefix: str) -> None:
        import redis
        from kafka import KafkaConsumer, KafkaProducer

        self.settings = settings
        self.interp = Interpreter.from_plan(plan, settings.guardrails)
        self.relevant = frozenset(t.encode() for t in plan.event_types)
        self.ooo = settings.flink.out_of_orderness_ms
        self.ns = f"jb:{uuid.uuid4().hex[:8]}"
        self.timers_key = f"{self.ns}:timers"
        r = settings.redis
        self.redis = redis.Redis(host=r.host, port=r.port, db=r.db,
                                 password=r.password.get_secret_value() if r.password else None)
        self.consumer = KafkaConsumer(topic, bootstrap_servers=settings.kafka.bootstrap_servers,
                                      group_id=f"baseline-{self.ns}", auto_offset_reset="earliest",
                                      enable_auto_commit=False, max_poll_records=2000,
                                      fetch_max_bytes=64 * 2**20, max_partition_fetch_bytes=8 * 2**20)
        self.producer = KafkaProducer(bootstrap_servers=settings.kafka.bootstrap_servers, acks=1, linger_ms=20,
                                      batch_size=512 * 1024)
        self.out_prefix = out_prefix
        self.watermark = -(2**63)
        self.t = Totals()

    def key(self, user: str) -> str:
        return f"{self.ns}:s:{user}"

    def run(self, expected: int, seconds: float) -> Totals:
        """Consume until `expected` records were read or `seconds` passed since the first one."""
        t, st = self.t, self.t.stages
        perf = time.perf_counter
        deadline = None
        while t.consumed < expected and (deadline is None or perf() < deadline):
            a = perf()
            polled = self.consumer.poll(timeout_ms=200, max_records=2000)
            b = perf()
            st["poll"] += b - a
            records = [r for part in polled.values() for r in part]
            if not records:
                continue
            if deadline is None:
                t.first = a
                deadline = a + seconds
            t.consumed += len(records)
            events = self._parse(records)
            st["filter_parse"] += perf() - b
            if events:
                self._process(events)
            self._fire_timers()
            self.consumer.commit_async()
            t.last = perf()
        self.producer.flush()
        t.last = perf()
        return t

    def _parse(self, records: list[Any]) -> list[Any]:
        from jobs.spec.records import Event

        relevant, out = self.relevant, []
        for r in records:
            raw = r.value
            i = raw.find(TYPE_MARK)
            if i < 0:
                continue
            i += len(TYPE_MARK)
            if raw[i:raw.find(b'"', i)] not in relevant:
                continue
            try:
                out.append(Event.model_validate_json(raw))
            except ValueError:
                continue  # the job sends these to events.rejected; nothing to compare here
        self.t.relevant += len(out)
        return out

    def _process(self, events: list[Any]) -> None:
        st, perf = self.t.stages, time.perf_counter
        a = perf()
        users = list({e.user_id for e in events})
        stored = dict(zip(users, self.redis.mget([self.key(u) for u in users]), strict=True))
        b = perf()
        st["redis_read"] += b - a
        wakeups: dict[str, Any] = {}
        dirty: set[str] = set()
        interp, ooo, emit = self.interp, self.ooo, self._emit
        spent_emit = 0.0
        for e in events:
            ts = to_ms(e.ts)
            if ts - ooo > self.watermark:
                self.watermark = ts - ooo
            raw = stored[e.user_id]
            step = interp.on_event(codec.decode(raw) if raw is not None else None, e)
            if step.changed:
                stored[e.user_id] = codec.encode(step.state) if step.state is not None else None
                dirty.add(e.user_id)
            wakeups[e.user_id] = step.wakeup
            if step.actions or step.outcomes:
                c = perf()
                emit(step)
                spent_emit += perf() - c
        c = perf()
        st["interpreter"] += c - b - spent_emit
        st["serialize_produce"] += spent_emit
        self._write(stored, dirty, wakeups)
        st["redis_write"] += perf() - c

    def _write(self, stored: dict[str, bytes | None], dirty: set[str], wakeups: dict[str, Any]) -> None:
        pipe = self.redis.pipeline(transaction=False)
        for u in dirty:
            value = stored[u]
            if value is None:
                pipe.delete(self.key(u))
            else:
                pipe.set(self.key(u), value)
        due = {u: to_ms(w) for u, w in wakeups.items() if w is not None}
        gone = [u for u, w in wakeups.items() if w is None]
        if due:
            pipe.zadd(self.timers_key, due)
        if gone:
            pipe.zrem(self.timers_key, *gone)
        pipe.execute()

    def _emit(self, step: Any) -> None:
        send, prefix = self.producer.send, self.out_prefix
        for action in step.actions:
            send(prefix + topics.actions_topic(action.channel), action.model_dump_json().encode(),
                 key=action.user_id.encode())
        for outcome in step.outcomes:
            send(prefix + topics.OUTCOMES, outcome.model_dump_json().encode(), key=outcome.user_id.encode())
        self.t.actions += len(step.actions)
        self.t.outcomes += len(step.outcomes)

    def _fire_timers(self) -> None:
        """Every timer due at or before the watermark, oldest first."""
        a = time.perf_counter()
        while True:
            due = self.redis.zrangebyscore(self.timers_key, "-inf", self.watermark, start=0, num=5000,
                                           withscores=True)
            if not due:
                break
            users = [u.decode() for u, _ in due]
            stored = dict(zip(users, self.redis.mget([self.key(u) for u in users]), strict=True))
            wakeups: dict[str, Any] = {}
            dirty: set[str] = set()
            for (_, score), u in zip(due, users, strict=True):
                raw = stored[u]
                wakeups[u] = None
                if raw is None:
                    continue
                step = self.interp.on_timer(codec.decode(raw), u, to_dt(int(score)))
                self.t.timers += 1
                if step.changed:
                    stored[u] = codec.encode(step.state) if step.state is not None else None
                    dirty.add(u)
                wakeups[u] = step.wakeup
                if step.actions or step.outcomes:
                    self._emit(step)
            self._write(stored, dirty, wakeups)
        self.t.stages["timers"] += time.perf_counter() - a

    def close(self) -> None:
        """Close clients and delete this run's Redis keys (never anything else)."""
        self.consumer.close()
        self.producer.close()
        keys = list(self.redis.scan_iter(match=f"{self.ns}:*", count=10_000))
        for i in range(0, len(keys), 10_000):
            self.redis.unlink(*keys[i:i + 10_000])
        self.redis.close()


def run_baseline(settings: Settings, plan: Any, topic: str, out_prefix: str, expected: int,
                 seconds: float) -> dict[str, Any]:
    """One baseline run; its figures (rate over the records read, stage split)."""
    base = Baseline(settings, plan, topic, out_prefix)
    try:
        t = base.run(expected, seconds)
    finally:
        base.close()
    window = t.last - t.first
    stage_total = sum(t.stages.values()) or 1.0
    return {
        "consumed": t.consumed, "relevant": t.relevant, "timers_fired": t.timers, "actions": t.actions,
        "outcomes": t.outcomes, "window_s": round(window, 3),
        "events_per_s": round(t.consumed / window, 1) if window > 0 else 0.0,
        "relevant_events_per_s": round(t.relevant / window, 1) if window > 0 else 0.0,
        "complete": t.consumed >= expected,
        "stages_s": {k: round(v, 3) for k, v in t.stages.items()},
        "stages_share": {k: round(v / stage_total, 3) for k, v in t.stages.items()},
    }


def phase_d(bench: Any) -> None:
    """d: the baseline on c's two backlogs (100% and 10% relevant), time-boxed each."""
    from jobs.runner import load_plan

    c = bench.results["phases"].get("c", {})
    plan = load_plan([bench.library], bench.library / "templates")
    out: dict[str, Any] = {}
    bench.results["phases"]["d"] = out
    for name, prefix_name, expected in (("d100", "c100", bench.size["c100"]), ("d10", "c10", bench.size["c10"])):
        prefix = bench.backlogs.get(prefix_name)
        if prefix is None:
            out[name] = {"skipped": "c's backlog is missing (phase bc did not run)"}
            continue
        res = run_baseline(bench.scoped(prefix), plan, prefix + topics.EVENTS, prefix + "d.", expected,
                           bench.size["d_seconds"])
        out[name] = res
        bench.log(f"d {name}: {res['events_per_s']:,.0f} events/s ({res['relevant_events_per_s']:,.0f} relevant/s)"
                  f"{'' if res['complete'] else ' (time-boxed: a prefix of the backlog)'}")
        bench.save()
    if "settings" in c:
        out["settings"] = {"same_backlogs_as": "c", "batch": 2000, "timer_batch": 5000}


def main(argv: list[str] | None = None) -> None:
    """Run the baseline alone on an existing events topic."""
    import json

    from jobs.runner import load_plan
    from jobs.settings import PROJECT_ROOT

    ap = argparse.ArgumentParser(description="the no-Flink baseline: Kafka + Redis + the interpreter")
    ap.add_argument("--topic", required=True)
    ap.add_argument("--prefix", required=True, help="prefix of the output topics")
    ap.add_argument("--expected", type=int, default=10**9)
    ap.add_argument("--seconds", type=float, default=45)
    args = ap.parse_args(argv)
    library = PROJECT_ROOT / "jobs" / "library"
    plan = load_plan([library], library / "templates")
    print(json.dumps(run_baseline(Settings.load(), plan, args.topic, args.prefix, args.expected, args.seconds),
                     indent=1))


if __name__ == "__main__":
    main()
