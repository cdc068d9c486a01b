"""From journey versions (and templates) to a `CompiledPlan`. Pure Python, no Flink."""

from __future__ import annotations

import hashlib
import itertools
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import timedelta

from jobs.compiler.plan import (
    PLAN_FORMAT,
    CompiledPlan,
    CounterSpec,
    DispatchTable,
    EntryRoute,
    ExitRoute,
    GoalRoute,
    JourneyRef,
    JourneyStatus,
    PlanJourney,
    WaitRoute,
)
from jobs.errors import Problem, ValidationFailed
from jobs.spec.journey import Journey
from jobs.spec.nodes import MessageNode, WaitForNode, WebhookNode
from jobs.spec.records import (
    CONSENT_UPDATED,
    IDENTIFY,
    JOURNEY_TRIGGERED,
    RESERVED_EVENT_TYPES,
    SEGMENT_ENTERED,
    USER_DELETED,
)
from jobs.spec.template import TemplateBase

#: Reserved types every plan keeps: they change a user's state across all journeys.
ALWAYS_KEPT = (IDENTIFY, CONSENT_UPDATED, USER_DELETED)
#: Deliveries that trigger a channel fallback.
FALLBACK_EVENTS = ("message.bounced", "message.failed")
#: Unsubscribes become opt-outs whenever some journey sends messages.
UNSUBSCRIBED = "message.unsubscribed"


def _statuses(journeys: list[Journey], paused: set[str]) -> dict[tuple[str, int], JourneyStatus]:
    newest: dict[str, int] = {}
    for j in journeys:
        newest[j.id] = max(newest.get(j.id, 0), j.version)
    out = {}
    for j in journeys:
        if j.version != newest[j.id]:
            out[(j.id, j.version)] = JourneyStatus.RETIRED
        elif j.id in paused:
            out[(j.id, j.version)] = JourneyStatus.PAUSED
        else:
            out[(j.id, j.version)] = JourneyStatus.ACTIVE
    return out


def compile_plan(
    journeys: Iterable[Journey],
    templates: Mapping[str, TemplateBase] | None = None,
    *,
    paused: Iterable[str] = (),
) -> CompiledPlan:
    """Compile journey versions into a plan.

    `journeys` may hold several versions of a journey: the newest takes entries, older ones are
    kept (retired) for users still inside. `paused` names journeys whose newest version is paused.
    Templates referenced by message and webhook nodes are carried in the plan; with
    `templates=None` they are left out and not checked. Raises ValidationFailed for two
    journeys with the same id and version, or a template used but not given.
    """
    items = sorted(journeys, key=lambda j: (j.id, j.version))
    check_templates = templates is not None
    templates = dict(templates or {})
    problems = [
        Problem(journey=b.id, message=f"journey {b.id!r} version {b.version} is given twice")
        for a, b in itertools.pairwise(items)
        if (a.id, a.version) == (b.id, b.version)
    ]
    statuses = _statuses(items, set(paused))

    entries: dict[str, list[EntryRoute]] = defaultdict(list)
    waits: dict[str, list[WaitRoute]] = defaultdict(list)
    goals: dict[str, list[GoalRoute]] = defaultdict(list)
    exits: dict[str, list[ExitRoute]] = defaultdict(list)
    windows: dict[str, set[timedelta]] = defaultdict(set)
    reserved_needed: set[str] = set(ALWAYS_KEPT)
    used_templates: set[str] = set()
    scheduled: list[JourneyRef] = []

    for j in items:
        status = statuses[(j.id, j.version)]
        if status is JourneyStatus.ACTIVE:
            entry = j.entry
            if entry.event is not None:
                entries[entry.event].append(EntryRoute(journey_id=j.id, version=j.version))
            elif entry.segment is not None:
                entries[SEGMENT_ENTERED].append(EntryRoute(journey_id=j.id, version=j.version, segment=entry.segment))
            elif entry.api:
                entries[JOURNEY_TRIGGERED].append(EntryRoute(journey_id=j.id, version=j.version, api=True))
            else:
                scheduled.append(JourneyRef(journey_id=j.id, version=j.version))
        for i, goal in enumerate(j.goals):
            goals[goal.event].append(
                GoalRoute(journey_id=j.id, version=j.version, index=i, name=goal.label, exit=goal.exit)
            )
        for i, trigger in enumerate(j.exit_on):
            exits[trigger.event].append(ExitRoute(journey_id=j.id, version=j.version, index=i))
        for counter in j.counters():
            windows[counter.event_type].add(counter.window)
        for node_id, node in j.nodes.items():
            if isinstance(node, WaitForNode):
                waits[node.event].append(WaitRoute(journey_id=j.id, version=j.version, node_id=node_id))
            if isinstance(node, MessageNode):
                reserved_needed.add(UNSUBSCRIBED)
                used_templates.add(node.template)
                if node.fallback is not None:
                    reserved_needed.update(FALLBACK_EVENTS)
                    used_templates.add(node.fallback.template)
            if isinstance(node, WebhookNode) and node.template is not None:
                used_templates.add(node.template)

    missing = sorted(t for t in used_templates if t not in templates) if check_templates else []
    problems += [Problem(message=f"template {t!r} is used but was not given") for t in missing]
    if problems:
        raise ValidationFailed(problems)

    types = sorted(set(entries) | set(waits) | set(goals) | set(exits) | set(windows) | reserved_needed)
    dispatch = {
        t: DispatchTable(
            entries=entries.get(t, []),
            waits=waits.get(t, []),
            goals=goals.get(t, []),
            exits=exits.get(t, []),
            counted=t in windows,
            reserved=t in RESERVED_EVENT_TYPES,
        )
        for t in types
    }
    counters = [CounterSpec(event_type=t, windows=sorted(ws), retention=max(ws)) for t, ws in sorted(windows.items())]
    plan = CompiledPlan(
        format=PLAN_FORMAT,
        event_types=types,
        counters=counters,
        dispatch=dispatch,
        scheduled=scheduled,
        journeys=[
            PlanJourney(journey_id=j.id, version=j.version, status=statuses[(j.id, j.version)], journey=j)
            for j in items
        ],
        templates={t: templates[t] for t in sorted(used_templates) if t in templates},
    )
    return plan.model_copy(update={"fingerprint": fingerprint(plan)})


def fingerprint(plan: CompiledPlan) -> str:
    """sha256 of the plan's canonical JSON, leaving out the fingerprint itself."""
    body = plan.model_dump_json(exclude={"fingerprint"})
    return hashlib.sha256(body.encode()).hexdigest()
