"""Graph checks: the start node, dangling edges, unreachable nodes, cycles without a wait."""

from __future__ import annotations

import difflib
from collections.abc import Iterator

from jobs.errors import Problem, Severity
from jobs.validation.sketch import JourneySketch


def _did_you_mean(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def reachable(sketch: JourneySketch) -> list[str]:
    """Node ids reachable from the start, in breadth-first order."""
    if sketch.start not in sketch.nodes:
        return []
    seen = [sketch.start]
    queue = [sketch.start]
    while queue:
        here = sketch.nodes[queue.pop(0)]
        for _, target in here.edges:
            if target in sketch.nodes and target not in seen:
                seen.append(target)
                queue.append(target)
    return seen


def _strongly_connected(nodes: dict[str, list[str]]) -> Iterator[list[str]]:
    """Tarjan's algorithm, iterative so deep graphs do not hit the recursion limit."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, pos = work.pop()
            if pos == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            succ = nodes[node]
            if pos < len(succ):
                work.append((node, pos + 1))
                nxt = succ[pos]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if low[node] == index[node]:
                component = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    component.append(top)
                    if top == node:
                        break
                yield component
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])


def _cycle_in(component: set[str], edges: dict[str, list[str]]) -> list[str]:
    """One concrete cycle inside a strongly connected component (from its first node in file order)."""
    start = next(n for n in edges if n in component)
    path = [start]
    seen = {start}
    here = start
    while True:
        nxt = next(t for t in edges[here] if t in component)
        if nxt in seen:
            return [*path[path.index(nxt) :], nxt]
        path.append(nxt)
        seen.add(nxt)
        here = nxt


def check_graph(sketch: JourneySketch, *, file: str | None, lines: dict[str, int]) -> list[Problem]:
    """Problems with the journey's graph. `lines` maps node ids (and "start") to file lines."""
    problems: list[Problem] = []
    ids = list(sketch.nodes)

    def problem(message: str, node: str | None = None, field: str | None = None, warn: bool = False) -> None:
        problems.append(
            Problem(
                file=file,
                line=lines.get(node or field or ""),
                journey=sketch.id,
                node=node,
                field=field,
                message=message,
                severity=Severity.WARNING if warn else Severity.ERROR,
            )
        )

    if sketch.start is not None and sketch.start not in sketch.nodes:
        problem(f"field 'start': {sketch.start!r} is not a node{_did_you_mean(sketch.start, ids)}", field="start")
    for node in sketch.nodes.values():
        for i, (label, target) in enumerate(node.edges):
            if target not in sketch.nodes:
                field = node.edge_fields[i] if i < len(node.edge_fields) else label
                problem(
                    f"field {field!r}: {target!r} is not a node{_did_you_mean(target, ids)}",
                    node=node.id,
                    field=field,
                )
    if sketch.start in sketch.nodes:
        seen = set(reachable(sketch))
        for node_id in ids:
            if node_id not in seen:
                problem("node is not reachable from the start node", node=node_id, warn=True)
        exits = [n for n in seen if sketch.nodes[n].type == "exit"]
        if not exits:
            problem("no exit node is reachable from the start: users who enter never leave", warn=True)
    # A cycle through waits is a loop in time (e.g. a weekly reminder); without one it would
    # spin forever inside a single event.
    instant = {
        n.id: [t for _, t in n.edges if t in sketch.nodes and not sketch.nodes[t].is_wait]
        for n in sketch.nodes.values()
        if not n.is_wait
    }
    for component in _strongly_connected(instant):
        members = set(component)
        if len(component) == 1 and component[0] not in instant[component[0]]:
            continue
        cycle = _cycle_in(members, instant)
        problem(
            f"cycle {' -> '.join(cycle)} has no wait (wait, wait_until or wait_for) and would never stop",
            node=cycle[0],
        )
    return problems
