"""The journey library as a whole: clean validation, full coverage of the language, no loose ends."""

from __future__ import annotations

from pathlib import Path

import pytest
from library_support import CLOCK, LIBRARY, bundle, ev, local, pick_user, plan, run

from jobs.spec.journey import QuietHoursMode, ReentryPolicy
from jobs.spec.loader import read_documents
from jobs.spec.nodes import BUILTIN_NODE_KINDS, MessageNode, Priority, WebhookNode
from jobs.validation import validate_paths

pytestmark = pytest.mark.unit

SCENARIOS = {
    "welcome-series": "test_library_welcome.py",
    "cart-abandonment": "test_library_cart.py",
    "trial-onboarding": "test_library_trial.py",
    "re-engagement": "test_library_reengagement.py",
    "renewal-reminder": "test_library_renewal.py",
    "lead-nurturing": "test_library_lead.py",
    "churn-risk": "test_library_churn.py",
    "post-purchase-feedback": "test_library_post_purchase.py",
}


def test_the_library_validates_without_errors_or_warnings() -> None:
    report = validate_paths([LIBRARY])
    assert [str(p) for p in report.problems] == []
    assert sorted(j.id for j in report.journeys) == sorted(SCENARIOS)


def test_every_journey_has_a_scenario_file_a_header_and_a_readme_row() -> None:
    readme = (LIBRARY / "README.md").read_text()
    here = Path(__file__).parent
    for path in sorted(LIBRARY.glob("*.yaml")):
        text = path.read_text()
        (doc,) = read_documents(path)
        jid = doc.data["id"]
        assert path.stem == jid
        assert (here / SCENARIOS[jid]).is_file()
        assert text.startswith("# ") and "# Events it expects" in text, f"{path.name}: header comment"
        assert f"| `{jid}` |" in readme


def test_the_library_uses_every_node_kind_channel_and_guardrail() -> None:
    journeys = bundle().journeys
    nodes = [n for j in journeys for n in j.nodes.values()]
    kinds = {n.type for n in nodes}
    assert kinds >= {m.model_fields["type"].annotation.__args__[0] for m in BUILTIN_NODE_KINDS}
    messages = [n for n in nodes if isinstance(n, MessageNode)]
    assert {n.channel.value for n in messages} == {"email", "sms", "push", "in_app", "slack"}
    assert {n.fallback.channel.value for n in messages if n.fallback} == {"email", "sms", "push"}
    assert {n.priority for n in messages} == {Priority.MARKETING, Priority.TRANSACTIONAL}
    webhooks = [n for n in nodes if isinstance(n, WebhookNode)]
    assert {n.template is None for n in webhooks} == {True, False}  # inline and templated
    assert {j.entry.trigger for j in journeys} == {"event", "segment", "schedule"}
    assert {j.entry.reentry.policy for j in journeys} == {ReentryPolicy.NEVER, ReentryPolicy.AFTER}
    assert {j.quiet_hours.mode for j in journeys if j.quiet_hours} == {QuietHoursMode.DEFER, QuietHoursMode.SKIP}
    assert sum(1 for j in journeys if j.holdout) == 3
    assert all(j.goals and j.caps is not None for j in journeys)
    assert any(not g.exit for j in journeys for g in j.goals)
    assert any(e.where is not None for j in journeys for e in j.exit_on)
    assert any(j.counters() for j in journeys)


def test_every_template_is_used_and_lives_in_a_file_named_after_it() -> None:
    templates = bundle().templates
    used = set()
    for j in bundle().journeys:
        for n in j.nodes.values():
            if isinstance(n, MessageNode):
                used.add(n.template)
                if n.fallback:
                    used.add(n.fallback.template)
            elif isinstance(n, WebhookNode) and n.template:
                used.add(n.template)
    assert sorted(templates) == sorted(used)
    for path in sorted((LIBRARY / "templates").glob("*.yaml")):
        (doc,) = read_documents(path)
        assert path.stem == doc.data["id"]
        assert doc.data.get("description"), f"{path.name}: say when it is sent"


def test_the_library_compiles_into_one_plan() -> None:
    p = plan()
    assert sorted(pj.journey_id for pj in p.journeys) == sorted(SCENARIOS)
    assert {"cart.updated", "order.completed", "session.started", "segment.entered", "message.clicked"} <= set(
        p.event_types
    )


def test_a_replayed_scenario_gives_the_same_records_stamped_with_the_fixed_clock() -> None:
    u = pick_user("c", "cart-abandonment")
    cart = {"cart_value": 42.0, "item_count": 1, "products": [{"name": "Mug", "price": 42.0}]}
    events = [ev(u, "cart.updated", local("America/New_York", "2026-05-04 10:00"), props=cart,
                 traits={"email": "a@example.com", "push_token": "t"})]
    until = local("America/New_York", "2026-05-08 00:00")
    first, second = run(events, until), run(events, until)
    assert first.result.actions == second.result.actions and len(first.result.actions) == 2
    assert first.result.outcomes == second.result.outcomes
    assert {r.emitted_at for r in first.result.actions + first.result.outcomes} == {CLOCK}
    assert [a.trigger_event_id for a in first.result.actions] == [None, None]  # both ran on timers
