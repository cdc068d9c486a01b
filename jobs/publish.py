"""Publishing journeys to a running job through the definitions topic.

The topic `journeys.definitions` (compacted, one partition) holds the current compiled plan. The
running job reads it as a broadcast stream and switches to each new plan without a restart, so
no event is lost and no user loses their place. A journey whose content changed gets the next
version number; every earlier version stays in the plan (retired), so users inside finish on
the version they entered with, and new entrants get the new one.

What a broadcast cannot change: the event types the job lets through its JVM-side filter are
fixed when the job starts. A plan that needs new event types is published all the same, and
`publish` says which types need a restart (`journeys run` resumes from its checkpoint).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from connectors import topics
from connectors.kafka_admin import ensure_topics
from jobs.compiler import CompiledPlan, compile_plan
from jobs.settings import Settings
from jobs.spec.journey import Journey
from jobs.spec.template import TemplateBase

PLAN_KEY = b"plan"


@dataclass
class Publication:
    """What a publish did."""

    plan: CompiledPlan
    new_versions: list[tuple[str, int]] = field(default_factory=list)
    unchanged: list[tuple[str, int]] = field(default_factory=list)
    needs_restart_for: list[str] = field(default_factory=list)


def _content(journey: Journey) -> str:
    return journey.model_dump_json(exclude={"version"})


def merge_versions(current: CompiledPlan | None, journeys: Iterable[Journey]) -> tuple[list[Journey], Publication]:
    """Every version in `current` plus the given journeys, numbered: unchanged content keeps its
    version, changed content gets the next number after the newest known version."""
    known: dict[str, list[Journey]] = {}
    for pj in current.journeys if current else []:
        known.setdefault(pj.journey_id, []).append(pj.journey)
    result = [j for versions in known.values() for j in versions]
    report = Publication(plan=current) if current else Publication(plan=None)  # type: ignore[arg-type]
    for journey in journeys:
        versions = known.get(journey.id, [])
        newest = max(versions, key=lambda j: j.version, default=None)
        if newest is not None and _content(newest) == _content(journey):
            report.unchanged.append((journey.id, newest.version))
            continue
        version = newest.version + 1 if newest is not None else journey.version
        numbered = journey.model_copy(update={"version": version})
        result.append(numbered)
        known.setdefault(journey.id, []).append(numbered)
        report.new_versions.append((journey.id, version))
    return result, report


def build_publication(
    current: CompiledPlan | None,
    journeys: Iterable[Journey],
    templates: Mapping[str, TemplateBase],
    paused: Iterable[str] = (),
) -> Publication:
    """The plan to publish: `current`'s versions and templates plus the given ones."""
    merged, report = merge_versions(current, journeys)
    all_templates = dict(current.templates) if current else {}
    all_templates.update(templates)
    plan = compile_plan(merged, all_templates, paused=paused)
    report.plan = plan
    if current is not None:
        report.needs_restart_for = sorted(set(plan.event_types) - set(current.event_types))
    return report


def definitions_topic(settings: Settings) -> str:
    """The definitions topic's full name (with the settings' prefix), created if missing."""
    name = settings.kafka.topic_prefix + topics.DEFINITIONS
    ensure_topics(settings, [name], partitions=1, configs=topics.DEFINITIONS_CONFIG)
    return name


def read_published(settings: Settings) -> CompiledPlan | None:
    """The plan last published, or None if nothing was."""
    topic = definitions_topic(settings)
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka.bootstrap_servers, consumer_timeout_ms=5000)
    try:
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        consumer.seek_to_end(partition)
        end = consumer.position(partition)
        if end == 0:
            return None
        consumer.seek(partition, end - 1)
        for message in consumer:
            return CompiledPlan.model_validate_json(message.value)
        return None
    finally:
        consumer.close()


def write_plan(settings: Settings, plan: CompiledPlan) -> None:
    """Put `plan` on the definitions topic."""
    topic = definitions_topic(settings)
    producer = KafkaProducer(bootstrap_servers=settings.kafka.bootstrap_servers, acks="all")
    try:
        producer.send(topic, key=PLAN_KEY, value=plan.model_dump_json().encode()).get(timeout=30)
    finally:
        producer.close()


def publish(
    settings: Settings,
    journeys: Iterable[Journey],
    templates: Mapping[str, TemplateBase],
    paused: Iterable[str] = (),
    *,
    always: bool = False,
) -> Publication:
    """Merge the given journeys into the published plan and publish it if anything changed (or
    `always`: a starting job needs one plan record to read, see `jobs.pipeline`)."""
    current = read_published(settings)
    report = build_publication(current, journeys, templates, paused)
    if always or current is None or report.plan.fingerprint != current.fingerprint:
        write_plan(settings, report.plan)
    return report
