"""The journey compiler: journey versions in, a deterministic `CompiledPlan` out (no Flink imports)."""

from jobs.compiler.compile import compile_plan, fingerprint
from jobs.compiler.explain import explain_plan
from jobs.compiler.plan import (
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

__all__ = [
    "CompiledPlan",
    "CounterSpec",
    "DispatchTable",
    "EntryRoute",
    "ExitRoute",
    "GoalRoute",
    "JourneyRef",
    "JourneyStatus",
    "PlanJourney",
    "WaitRoute",
    "compile_plan",
    "explain_plan",
    "fingerprint",
]
