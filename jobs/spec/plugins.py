"""Loading node-kind plugins: modules that call `register_node_kind` when imported.

A connector package makes its kinds available either through the entry-point group
`journeys.node_kinds` (each entry point names a module or a callable to run) or by being named
explicitly (`journeys validate --plugin my_pkg.crm`, or `JOURNEYS_PLUGINS="my_pkg.crm other"`).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from importlib.metadata import entry_points

from jobs.errors import SpecError

ENTRY_POINT_GROUP = "journeys.node_kinds"


def load_plugins(modules: Iterable[str] = (), *, entry_point_group: str | None = ENTRY_POINT_GROUP) -> list[str]:
    """Import the named plugin modules and every entry point of the group; return what was loaded.

    Raises SpecError naming a module that cannot be imported.
    """
    loaded: list[str] = []
    for name in modules:
        for module in name.split():
            try:
                importlib.import_module(module)
            except ImportError as exc:
                raise SpecError(f"cannot import node-kind plugin {module!r}: {exc}") from None
            loaded.append(module)
    if entry_point_group:
        for ep in sorted(entry_points(group=entry_point_group), key=lambda e: e.name):
            target = ep.load()
            if callable(target):
                target()
            loaded.append(f"{ep.name} ({ep.value})")
    return loaded
