"""Running journeys as Flink jobs: `simulate` over a file, `run` against Kafka.

Both build the same job graph (`jobs.pipeline.build_journey_job`); they differ only in their
sources, sinks and how time moves: `simulate` takes time from the events and ends when the input
does (every pending timer up to `until` fires); `run` is unbounded, checkpointed, and a
wall-clock input keeps time moving in a quiet stream.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from connectors import topics
from jobs.compiler import CompiledPlan, compile_plan
from jobs.errors import JourneysError
from jobs.settings import Settings
from jobs.spec.nodes import ActionNode, FeatureFlagNode, MessageNode, WebhookNode
from jobs.validation import Bundle, load_bundle

if TYPE_CHECKING:
    from operators.flink.functions import JourneyProgram

DEFAULT_HORIZON = timedelta(days=365)


class RunError(JourneysError):
    """A job could not be built or run (bad input file, nothing to run)."""


def load_journeys(journeys: Sequence[Path], templates: Path | None) -> Bundle:
    """Validate journeys and templates; raises ValidationFailed on any error."""
    bundle = load_bundle([*journeys, *([templates] if templates else [])])
    if not bundle.journeys:
        raise RunError(f"no journeys found in {', '.join(str(p) for p in journeys)}")
    return bundle


def load_plan(journeys: Sequence[Path], templates: Path | None, paused: Iterable[str] = ()) -> CompiledPlan:
    """Validate journeys and templates and compile them; raises ValidationFailed on any error."""
    bundle = load_journeys(journeys, templates)
    return compile_plan(bundle.journeys, bundle.templates, paused=paused)


def plan_channels(plan: CompiledPlan) -> tuple[str, ...]:
    """Every channel an action of the plan can go to: the built-in ones plus plugin channels."""
    found: set[str] = set(topics.CHANNELS)
    for pj in plan.journeys:
        for node in pj.journey.nodes.values():
            if isinstance(node, MessageNode):
                found.add(str(node.channel))
                if node.fallback is not None:
                    found.add(str(node.fallback.channel))
            elif isinstance(node, WebhookNode):
                found.add("webhook")
            elif isinstance(node, FeatureFlagNode):
                found.add("flag")
            elif isinstance(node, ActionNode):
                found.add(node.action_channel())
    return tuple(sorted(found))


def journey_program(plan: CompiledPlan, settings: Settings, until_ms: int | None = None) -> JourneyProgram:
    """What the journey operator runs: the plan, the guardrails, the outputs, time limits."""
    from operators.flink.functions import JourneyProgram

    return JourneyProgram(
        plan=plan,
        guardrails=settings.guardrails,
        channels=plan_channels(plan),
        allowed_lateness_ms=settings.flink.allowed_lateness_ms,
        until_ms=until_ms,
    )


# --- simulate ---------------------------------------------------------------------------------


@dataclass
class SimulationSummary:
    """What `journeys simulate` prints."""

    events: int = 0
    rejected: int = 0
    late: int = 0
    entered: Counter[str] = field(default_factory=Counter)
    users_entered: int = 0
    actions: Counter[str] = field(default_factory=Counter)
    suppressed: Counter[str] = field(default_factory=Counter)
    converted: Counter[str] = field(default_factory=Counter)
    exited: Counter[str] = field(default_factory=Counter)
    errors: int = 0
    seconds: float = 0.0

    def lines(self) -> list[str]:
        """The summary as printable lines."""
        out = [
            f"events read: {self.events:,} ({self.rejected:,} rejected, {self.late:,} late) "
            f"in {self.seconds:.1f}s",
            f"users entered: {self.users_entered:,} "
            + ("(" + ", ".join(f"{j} {n:,}" for j, n in sorted(self.entered.items())) + ")" if self.entered else ""),
            "actions: " + (", ".join(f"{c} {n:,}" for c, n in sorted(self.actions.items())) or "none"),
            "suppressed: " + (", ".join(f"{r} {n:,}" for r, n in sorted(self.suppressed.items())) or "none"),
            "converted: " + (", ".join(f"{j} {n:,}" for j, n in sorted(self.converted.items())) or "none"),
            "exited: " + (", ".join(f"{r} {n:,}" for r, n in sorted(self.exited.items())) or "none"),
        ]
        if self.errors:
            out.append(f"errors: {self.errors:,} (see outcomes with kind 'error')")
        return out


def scan_events(path: Path) -> tuple[int, datetime | None]:
    """Count the lines of an events file and find its latest valid `ts` (for the default horizon)."""
    if not path.is_file():
        raise RunError(f"events file {path} does not exist")
    count, latest = 0, None
    with path.open() as f:
        for line in f:
            if not line.strip():
                continue
            count += 1
            try:
                ts = datetime.fromisoformat(json.loads(line)["ts"])
            except (ValueError, KeyError, TypeError):
                continue
            if ts.tzinfo is not None and (latest is None or ts > latest):
                latest = ts
    return count, latest


def simulate(
    settings: Settings,
    plan: CompiledPlan,
    events_file: Path,
    out_dir: Path,
    *,
    until: datetime | None = None,
    horizon: timedelta = DEFAULT_HORIZON,
    parallelism: int | None = None,
) -> SimulationSummary:
    """Run the compiled job on the local mini-cluster over `events_file` (JSON lines).

    Time comes from the events. Without `until`, pending timers fire up to the latest event time
    plus `horizon` (journeys that loop forever need an end). Writes `actions.jsonl`,
    `outcomes.jsonl` and `rejected.jsonl` to `out_dir`.
    """
    from pyflink.common.serialization import Encoder
    from pyflink.datastream.connectors.file_system import FileSink, FileSource, StreamFormat

    from jobs.flink_env import create_env
    from jobs.pipeline import JobSinks, TimeSettings, build_journey_job
    from operators.core import to_ms

    count, latest = scan_events(events_file)
    if until is None and latest is not None:
        until = latest + horizon
    program = journey_program(plan, settings, until_ms=to_ms(until) if until is not None else None)

    out_dir.mkdir(parents=True, exist_ok=True)
    parts = out_dir / ".parts"
    if parts.exists():
        _remove_tree(parts)
    overrides = {"execution.checkpointing.interval": "1s"}
    if parallelism is not None:
        overrides["parallelism.default"] = str(parallelism)
    env = create_env(settings, state_backend="hashmap", overrides=overrides)
    if parallelism is not None:
        env.set_parallelism(parallelism)

    def sink(name: str) -> FileSink:
        return FileSink.for_row_format(str(parts / name), Encoder.simple_string_encoder()).build()

    source = FileSource.for_record_stream_format(
        StreamFormat.text_line_format(), str(events_file.resolve())
    ).build()
    sinks = JobSinks(
        outcomes=sink("outcomes"),
        actions={ch: sink(f"actions/{ch}") for ch in program.channels},
        rejected=sink("rejected"),
        late=sink("late"),
    )
    build_journey_job(
        env,
        source,
        sinks,
        program,
        relevant_types=set(plan.event_types),
        time=TimeSettings(
            out_of_orderness_ms=settings.flink.out_of_orderness_ms,
            idle_timeout_ms=settings.flink.idle_timeout_ms,
            clock_interval_ms=None,
        ),
    )
    started = time.monotonic()
    env.execute(f"{settings.flink.job_name}-simulate")
    seconds = time.monotonic() - started

    actions = _merge(parts / "actions", out_dir / "actions.jsonl", key=lambda r: (r["ts"], r["action_id"]))
    outcomes = _merge(parts / "outcomes", out_dir / "outcomes.jsonl", key=lambda r: (r["ts"], r["user_id"]))
    rejected = _merge(parts / "rejected", out_dir / "rejected.jsonl", key=None)
    late = _merge(parts / "late", out_dir / "late.jsonl", key=None, raw=True)
    _remove_tree(parts)
    return summarize(count, actions, outcomes, len(rejected), len(late), seconds)


def summarize(
    events: int, actions: list[dict], outcomes: list[dict], rejected: int, late: int, seconds: float
) -> SimulationSummary:
    """Counts per journey, channel and reason from actions and outcomes."""
    s = SimulationSummary(events=events, rejected=rejected, late=late, seconds=seconds)
    users: set[str] = set()
    for o in outcomes:
        kind, journey = o["kind"], o["journey_id"]
        if kind == "entered":
            s.entered[journey] += 1
            users.add(o["user_id"])
        elif kind == "suppressed":
            s.suppressed[(o.get("detail") or "unknown").split(":", 1)[0]] += 1
        elif kind == "converted":
            s.converted[journey] += 1
        elif kind == "exited":
            s.exited[(o.get("detail") or "unknown").split(":", 1)[0]] += 1
        elif kind == "error":
            s.errors += 1
    s.users_entered = len(users)
    for a in actions:
        s.actions[a["channel"]] += 1
    return s


def _merge(folder: Path, target: Path, key, raw: bool = False) -> list:
    """Gather a FileSink's part files into one JSON-lines file (sorted by `key`, stably)."""
    lines = [
        line
        for part in sorted(folder.rglob("*"))
        if part.is_file() and not part.name.startswith(".")
        for line in part.read_text().splitlines()
        if line
    ]
    if raw:
        target.write_text("".join(line + "\n" for line in lines))
        return lines
    rows = [json.loads(line) for line in lines]
    if key is not None:
        rows.sort(key=key)
    target.write_text("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in rows))
    return rows


def _remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


# --- run --------------------------------------------------------------------------------------


def checkpoint_root(settings: Settings) -> Path:
    """Where `run` keeps this job's checkpoints (one folder per job name)."""
    return settings.home / "checkpoints" / settings.flink.job_name


def latest_checkpoint(root: Path) -> Path | None:
    """The newest complete checkpoint or savepoint under `root` (a folder holding `_metadata`)."""
    found = [m.parent for m in root.glob("*/chk-*/_metadata")] + [m.parent for m in root.glob("savepoint-*/_metadata")]
    if not found:
        return None
    return max(found, key=lambda p: (p / "_metadata").stat().st_mtime)


def run(
    settings: Settings,
    plan: CompiledPlan,
    *,
    restore: Path | None = None,
    fresh: bool = False,
    on_submitted: Callable[[Any, Path | None], None] | None = None,
) -> None:
    """Run the journeys job against Kafka until it is stopped.

    Reads `events`, writes `actions.<channel>`, `outcomes` and `events.rejected` (malformed and
    late input, with the reason). Checkpoints to `<home>/checkpoints/<job name>/`, RocksDB state.
    Resumes from `restore`, else (unless `fresh`) from the newest retained checkpoint of this job
    name, so a restart after a crash continues where the last checkpoint left off. `plan` runs
    until a newer one is published on the definitions topic (see `jobs.publish`).
    `on_submitted(job_client, restored_from)` is called once the job runs.
    """
    from connectors.flink_kafka import kafka_sink, kafka_source
    from connectors.kafka_admin import ensure_topics
    from jobs.flink_env import create_env
    from jobs.pipeline import JobSinks, TimeSettings, build_journey_job

    program = journey_program(plan, settings)
    f = settings.flink
    prefix = settings.kafka.topic_prefix
    ensure_topics(
        settings,
        [prefix + t for t in [topics.EVENTS, topics.OUTCOMES, topics.EVENTS_REJECTED]]
        + [prefix + topics.actions_topic(ch) for ch in program.channels],
    )
    ensure_topics(settings, [prefix + topics.DEFINITIONS], partitions=1, configs=topics.DEFINITIONS_CONFIG)
    root = checkpoint_root(settings)
    root.mkdir(parents=True, exist_ok=True)
    if restore is None and not fresh:
        restore = latest_checkpoint(root)
    overrides = {"execution.checkpointing.dir": root.resolve().as_uri()}
    if restore is not None:
        overrides["execution.state-recovery.path"] = restore.resolve().as_uri()
    env = create_env(settings, state_backend=f.state_backend, overrides=overrides)

    def sink(topic: str, name: str | None = None):
        return kafka_sink(
            settings,
            topic,
            exactly_once=f.exactly_once_sinks,
            transactional_id_prefix=f"{f.job_name}-{name or topic}",
        )

    build_journey_job(
        env,
        kafka_source(settings, [topics.EVENTS], group_id=f.job_name, start="committed"),
        JobSinks(
            outcomes=sink(topics.OUTCOMES),
            actions={ch: sink(topics.actions_topic(ch)) for ch in program.channels},
            rejected=sink(topics.EVENTS_REJECTED),
            late=sink(topics.EVENTS_REJECTED, "late"),
        ),
        program,
        relevant_types=set(plan.event_types),
        time=TimeSettings(
            out_of_orderness_ms=f.out_of_orderness_ms,
            idle_timeout_ms=f.idle_timeout_ms,
            clock_interval_ms=f.clock_interval_ms,
        ),
        max_future_ms=f.max_future_ms,
        definitions=kafka_source(
            settings, [topics.DEFINITIONS], group_id=f"{f.job_name}-definitions", start="earliest"
        ),
    )
    client = env.execute_async(f.job_name)
    if on_submitted is not None:
        on_submitted(client, restore)
    client.get_job_execution_result().result()
