"""A readable account of a compiled plan (`journeys compile --explain`)."""

from __future__ import annotations

from jobs.compiler.plan import CompiledPlan, JourneyStatus
from jobs.spec.conditions import format_condition
from jobs.spec.durations import format_duration
from jobs.spec.journey import Journey
from jobs.spec.nodes import (
    ActionNode,
    BranchNode,
    FeatureFlagNode,
    MessageNode,
    NodeBase,
    SplitNode,
    UpdateProfileNode,
    WaitForNode,
    WaitNode,
    WaitUntilNode,
    WebhookNode,
)


def describe_node(node: NodeBase) -> str:
    """What a node does, in a few words."""
    if isinstance(node, WaitNode):
        return f"wait {format_duration(node.duration)}"
    if isinstance(node, WaitUntilNode):
        return f"wait until {node.at:%H:%M} ({node.tz}) on {','.join(d.value for d in node.days)}"
    if isinstance(node, WaitForNode):
        match = " ".join(f"{k}={v}" for k, v in node.match.items())
        return f"wait up to {format_duration(node.timeout)} for {node.event}" + (f" [{match}]" if match else "")
    if isinstance(node, BranchNode):
        return "branch: " + "; ".join(format_condition(c.when) for c in node.cases)
    if isinstance(node, SplitNode):
        total = sum(v.weight for v in node.variants)
        return "split " + ", ".join(f"{v.name} {100 * v.weight / total:.0f}%" for v in node.variants)
    if isinstance(node, MessageNode):
        text = f"{node.channel.value} {node.template} ({node.category}, {node.priority.value})"
        if node.fallback:
            text += f", fallback {node.fallback.channel.value} {node.fallback.template}"
            text += f" within {format_duration(node.fallback_window)}"
        return text
    if isinstance(node, WebhookNode):
        return f"webhook {node.template or f'{node.method} {node.url}'}"
    if isinstance(node, UpdateProfileNode):
        keys = [*node.set, *(f"-{k}" for k in node.unset), *(f"+{k}" for k in node.increment)]
        return "update profile " + ", ".join(keys)
    if isinstance(node, FeatureFlagNode):
        return f"feature flag {node.flag} = {node.value!r}"
    if isinstance(node, ActionNode):
        return f"{node.type} action on {node.action_channel()}"
    return node.type


def _journey_lines(journey: Journey, status: JourneyStatus) -> list[str]:
    entry = journey.entry
    if entry.event is not None:
        trigger = f"on event {entry.event}"
    elif entry.segment is not None:
        trigger = f"on entering segment {entry.segment}"
    elif entry.schedule is not None:
        days = ",".join(d.value for d in entry.schedule.days)
        trigger = f"on schedule at {entry.schedule.at:%H:%M} ({entry.schedule.tz}) on {days}"
    else:
        trigger = "through the API"
    reentry = entry.reentry.policy.value
    if entry.reentry.cooldown is not None:
        reentry += f" (cooldown {format_duration(entry.reentry.cooldown)})"
    lines = [f"  {journey.id} v{journey.version} [{status.value}] — {journey.name}"]
    lines.append(f"    enters {trigger}" + (f" where {format_condition(entry.where)}" if entry.where else ""))
    lines.append(f"    re-entry: {reentry}; timezone {journey.tz}")
    for goal in journey.goals:
        cond = f" where {format_condition(goal.where)}" if goal.where else ""
        lines.append(f"    goal {goal.label}: {goal.event}{cond}{' (exits)' if goal.exit else ''}")
    for trigger_exit in journey.exit_on:
        cond = f" where {format_condition(trigger_exit.where)}" if trigger_exit.where else ""
        lines.append(f"    exits on {trigger_exit.event}{cond}")
    if journey.holdout:
        lines.append(f"    holdout: {journey.holdout.percent:g}% never messaged")
    for cap in journey.caps:
        lines.append(f"    cap: at most {cap.max} on {cap.channel} per {format_duration(cap.per)}")
    if journey.quiet_hours:
        q = journey.quiet_hours
        lines.append(f"    quiet hours {q.start:%H:%M}-{q.end:%H:%M} ({q.tz}): {q.mode.value}")
    lines.append(f"    start: {journey.start}")
    for node_id, node in journey.nodes.items():
        edges = node.edges()
        if [label for label, _ in edges] == ["next"]:
            route = f" -> {edges[0][1]}"
        else:
            route = (" -> " + ", ".join(f"{label}: {target}" for label, target in edges)) if edges else ""
        lines.append(f"      {node_id}: {describe_node(node)}{route}")
    return lines


def explain_plan(plan: CompiledPlan) -> str:
    """The plan as text: journeys, event types and what each does, counters."""
    out = [f"plan {plan.fingerprint[:12]} (format {plan.format})", "", f"journeys ({len(plan.journeys)}):"]
    for item in plan.journeys:
        out += _journey_lines(item.journey, item.status)
    out += ["", f"event types kept ({len(plan.event_types)}; every other type is dropped before the operator):"]
    for event_type in plan.event_types:
        table = plan.dispatch[event_type]
        does: list[str] = []
        for e in table.entries:
            how = f" (segment {e.segment})" if e.segment else " (API)" if e.api else ""
            does.append(f"enters {e.journey_id} v{e.version}{how}")
        does += [f"ends wait {w.journey_id} v{w.version}/{w.node_id}" for w in table.waits]
        does += [f"goal {g.name} of {g.journey_id} v{g.version}" for g in table.goals]
        does += [f"exits {x.journey_id} v{x.version}" for x in table.exits]
        if table.counted:
            does.append("counted")
        if table.reserved and not does:
            does.append("handled by the job (reserved)")
        out.append(f"  {event_type}: {'; '.join(does)}")
    out += ["", f"counters ({len(plan.counters)}):"]
    for counter in plan.counters:
        windows = ", ".join(format_duration(w) for w in counter.windows)
        out.append(f"  {counter.event_type}: windows {windows}; keep {format_duration(counter.retention)}")
    if not plan.counters:
        out.append("  none")
    if plan.scheduled:
        out += ["", "scheduled entries:"] + [f"  {r.journey_id} v{r.version}" for r in plan.scheduled]
    if plan.templates:
        out += ["", f"templates ({len(plan.templates)}): " + ", ".join(plan.templates)]
    return "\n".join(out) + "\n"
