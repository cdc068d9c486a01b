"""Records built without validation (`operators.core.records.trusted`) match validated ones."""

from __future__ import annotations

import pytest
from interp_support import Harness, at, ev, journey

from jobs.compiler import compile_plan
from jobs.spec.records import ActionRecord, OutcomeRecord
from operators.core import Interpreter

pytestmark = pytest.mark.unit

J = """
    id: r
    name: R
    entry: {event: go}
    start: m
    nodes:
      m: {type: message, channel: email, template: t, fallback: {channel: sms, template: s}, next: w}
      w: {type: wait, duration: 1h, next: done}
      done: {type: exit}
"""


def test_emitted_records_validate_and_serialize_like_validated_ones() -> None:
    h = Harness([journey(J)])
    h.send(ev("go", traits={"email": "a@b.c", "phone": "+1"}))
    h.advance(at(hours=2))
    assert h.actions and h.outcomes
    for record in h.actions:
        again = ActionRecord.from_json(record.to_json())
        assert again == record and again.to_json() == record.to_json()
        assert record.model_dump() == ActionRecord.model_validate(record.model_dump()).model_dump()
    for record in h.outcomes:
        again = OutcomeRecord.from_json(record.to_json())
        assert again == record and again.to_json() == record.to_json()


def test_events_no_journey_reads_are_not_even_written() -> None:
    h = Harness([journey(J)])
    h.send(ev("go", traits={"email": "a@b.c"}))
    step = h.send(ev("page.viewed", at(minutes=1)))
    assert not step.changed and step.outcomes == [] and step.wakeup == at(hours=1)
    assert h.send(ev("page.viewed", at(minutes=2), traits={"plan": "pro"})).changed  # traits: kept


def test_from_plan_takes_active_paused_and_retired_versions() -> None:
    v1 = journey(J)
    v2 = v1.model_copy(update={"version": 2})
    other = journey(J.replace("id: r", "id: p"))
    plan = compile_plan([v1, v2, other], paused=["p"])
    interp = Interpreter.from_plan(plan)
    h = Harness(interp=interp)
    h.send(ev("go", traits={"email": "a@b.c"}))
    assert [(a.journey_id, a.version) for a in h.actions] == [("r", 2)]
    assert interp.journey("r", 1) is not None


def test_the_core_imports_no_flink() -> None:
    import subprocess
    import sys

    code = "import sys, operators.core, state.codec; print('pyflink' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
