"""A light outline of a journey's graph, built from a parsed Journey or from raw data.

Graph and reference checks run on this outline, so they still report dangling `next`s, cycles
and unknown templates when some node of the journey failed to parse: the user gets every
problem in one pass instead of one layer at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from jobs.spec.journey import Journey
from jobs.spec.nodes import (
    BranchNode,
    Channel,
    MessageNode,
    NodeBase,
    SplitNode,
    WaitForNode,
    WebhookNode,
    node_kinds,
)

_EDGE_KEYS = ("next", "default", "on_event", "on_timeout")


@dataclass(frozen=True)
class TemplateUse:
    """A template a node refers to: which field, the template id and the channel it must have."""

    field: str
    template: str
    channel: str


@dataclass(frozen=True)
class NodeSketch:
    """What the graph checks need to know about one node."""

    id: str
    type: str | None
    edges: tuple[tuple[str, str], ...]
    is_wait: bool
    #: The field each edge is written in (`next`, `cases[0].next`, `variants[1].next`…).
    edge_fields: tuple[str, ...] = ()
    templates: tuple[TemplateUse, ...] = ()
    #: For wait_for nodes: the node id in `match.node`, if any.
    match_node: str | None = None


@dataclass(frozen=True)
class JourneySketch:
    """The journey's start and nodes, in file order."""

    id: str | None
    start: str | None
    nodes: dict[str, NodeSketch] = field(default_factory=dict)


def _templates_of(node: NodeBase) -> tuple[TemplateUse, ...]:
    uses: list[TemplateUse] = []
    if isinstance(node, MessageNode):
        uses.append(TemplateUse("template", node.template, node.channel.value))
        if node.fallback is not None:
            uses.append(TemplateUse("fallback.template", node.fallback.template, node.fallback.channel.value))
    elif isinstance(node, WebhookNode) and node.template is not None:
        uses.append(TemplateUse("template", node.template, "webhook"))
    return tuple(uses)


def _edge_fields(node: NodeBase) -> tuple[str, ...]:
    if isinstance(node, BranchNode):
        return (*(f"cases[{i}].next" for i in range(len(node.cases))), "default")
    if isinstance(node, SplitNode):
        return tuple(f"variants[{i}].next" for i in range(len(node.variants)))
    return tuple(label for label, _ in node.edges())


def sketch_journey(journey: Journey) -> JourneySketch:
    """Outline a parsed journey."""
    nodes = {}
    for node_id, node in journey.nodes.items():
        match_node = node.match.get("node") if isinstance(node, WaitForNode) else None
        nodes[node_id] = NodeSketch(
            id=node_id,
            type=node.type,
            edges=tuple(node.edges()),
            is_wait=node.is_wait,
            edge_fields=_edge_fields(node),
            templates=_templates_of(node),
            match_node=match_node if isinstance(match_node, str) else None,
        )
    return JourneySketch(journey.id, journey.start, nodes)


def _is_channel(value: Any) -> bool:
    return isinstance(value, str) and value in {c.value for c in Channel}


def sketch_raw(data: Any) -> JourneySketch | None:
    """Outline a journey document that did not parse; None if it has no usable `nodes` mapping."""
    if not isinstance(data, dict) or not isinstance(data.get("nodes"), dict):
        return None
    kinds = node_kinds()
    nodes: dict[str, NodeSketch] = {}
    for raw_id, raw in data["nodes"].items():
        node_id = str(raw_id)
        if not isinstance(raw, dict):
            nodes[node_id] = NodeSketch(node_id, None, (), False)
            continue
        kind = raw.get("type") if isinstance(raw.get("type"), str) else None
        edges: list[tuple[str, str]] = []
        fields: list[str] = []
        for i, case in enumerate(raw.get("cases") if isinstance(raw.get("cases"), list) else []):
            if isinstance(case, dict) and isinstance(case.get("next"), str):
                edges.append((f"case {i + 1}", case["next"]))
                fields.append(f"cases[{i}].next")
        for i, variant in enumerate(raw.get("variants") if isinstance(raw.get("variants"), list) else []):
            if isinstance(variant, dict) and isinstance(variant.get("next"), str):
                edges.append((f"variant {variant.get('name')}", variant["next"]))
                fields.append(f"variants[{i}].next")
        for key in _EDGE_KEYS:
            if isinstance(raw.get(key), str):
                edges.append((key, raw[key]))
                fields.append(key)
        model = kinds.get(kind) if kind else None
        uses: list[TemplateUse] = []
        if kind == "message" and isinstance(raw.get("template"), str) and _is_channel(raw.get("channel")):
            uses.append(TemplateUse("template", raw["template"], raw["channel"]))
        if kind == "message" and isinstance(raw.get("fallback"), dict):
            fb = raw["fallback"]
            if isinstance(fb.get("template"), str) and _is_channel(fb.get("channel")):
                uses.append(TemplateUse("fallback.template", fb["template"], fb["channel"]))
        if kind == "webhook" and isinstance(raw.get("template"), str):
            uses.append(TemplateUse("template", raw["template"], "webhook"))
        match = raw.get("match")
        match_node = match.get("node") if isinstance(match, dict) else None
        nodes[node_id] = NodeSketch(
            id=node_id,
            type=kind,
            edges=tuple(edges),
            is_wait=bool(model and model.is_wait),
            edge_fields=tuple(fields),
            templates=tuple(uses),
            match_node=match_node if isinstance(match_node, str) else None,
        )
    ident = data.get("id") if isinstance(data.get("id"), str) else None
    start = data.get("start") if isinstance(data.get("start"), str) else None
    return JourneySketch(ident, start, nodes)
