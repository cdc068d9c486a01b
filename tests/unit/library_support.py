"""Scenario support for the journey library (`jobs/library`): load it the way the job does, replay
events through the interpreter, and read back the actions, outcomes and profiles.

Every scenario runs the whole library at once (as one Flink job would), so a test also proves the
other journeys leave its user alone. Every action a scenario emits is rendered with the
dispatchers' renderer, so a template that needs a value the journey does not provide fails the test
that sends it instead of dead-lettering in production.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from connectors.dispatch.render import RenderContext, TemplateRenderer
from jobs.compiler import CompiledPlan, compile_plan
from jobs.spec.records import ActionRecord, Event, OutcomeRecord
from jobs.validation import Bundle, load_bundle
from operators.core import ConsentRule, Guardrails, Interpreter
from operators.core.hashing import in_holdout
from operators.core.replay import ReplayResult, replay
from state import codec

__all__ = [
    "CLOCK",
    "GUARDRAILS",
    "LIBRARY",
    "Scenario",
    "Sent",
    "days",
    "delivery",
    "ev",
    "local",
    "pick_user",
    "run",
]

LIBRARY = Path(__file__).resolve().parents[2] / "jobs" / "library"
CLOCK = datetime(2030, 1, 1, tzinfo=UTC)
"""The fixed wall clock stamped as `emitted_at`, so records are the same on every run."""

GUARDRAILS = Guardrails(consent=[ConsentRule(channel="sms", category="marketing", require_opt_in=True)])
"""Production-like global rules: marketing SMS needs an explicit opt-in (TCPA); everything else is opt-out."""

#: Outcome kinds that tell a journey's story; `node` outcomes are kept only for quiet-hours deferrals.
KEY_KINDS = frozenset({"entered", "branch", "split", "suppressed", "converted", "exited", "error"})

_renderer = TemplateRenderer()


@functools.cache
def bundle() -> Bundle:
    """The library's journeys and templates, validated (raises on any error)."""
    return load_bundle([LIBRARY])


@functools.cache
def plan() -> CompiledPlan:
    """The library compiled as one plan, the way `journeys compile jobs/library` does."""
    b = bundle()
    return compile_plan(b.journeys, b.templates)


_interpreters: dict[str, Interpreter] = {}


def interpreter(guardrails: Guardrails = GUARDRAILS) -> Interpreter:
    """An interpreter over the whole library, strict (errors raise) and with the fixed clock.

    Built once per set of guardrails: interpreters keep no per-user state, so scenarios share them.
    """
    key = guardrails.model_dump_json()
    if key not in _interpreters:
        _interpreters[key] = Interpreter.from_plan(plan(), guardrails, clock=lambda: CLOCK, strict=True)
    return _interpreters[key]


def local(tz: str, when: str) -> datetime:
    """`"2026-05-04 14:00"` wall time in `tz`, as an aware datetime in UTC."""
    naive = datetime.fromisoformat(when)
    return naive.replace(tzinfo=ZoneInfo(tz)).astimezone(UTC)


def ev(
    user: str,
    type: str,
    when: datetime,
    props: Mapping[str, Any] | None = None,
    traits: Mapping[str, Any] | None = None,
    tz: str | None = None,
    event_id: str | None = None,
) -> Event:
    """An event with an id derived from user, type and time (unique unless two such events coincide)."""
    return Event(
        event_id=event_id or f"{user}:{type}:{when.isoformat()}",
        type=type,
        user_id=user,
        ts=when,
        props=dict(props or {}),
        context={"tz": tz} if tz else {},
        traits=dict(traits or {}),
    )


def delivery(action: ActionRecord | Sent, status: str, when: datetime) -> Event:
    """The `message.<status>` event a dispatcher feeds back for `action` (delivered, clicked, bounced…)."""
    return ev(
        action.user_id,
        f"message.{status}",
        when,
        props={
            "action_id": action.action_id,
            "journey_id": action.journey_id,
            "node_id": action.node_id,
            "channel": action.channel,
        },
        event_id=f"{action.action_id}:{status}",
    )


def pick_user(
    prefix: str,
    journey_id: str,
    *,
    holdout: bool = False,
    variants: Mapping[str, str] | None = None,
) -> str:
    """The first id `<prefix><n>` that lands in (or out of) the journey's holdout and in the given
    split variants (node id -> variant name). Splits and holdouts hash the user id, so scenarios
    choose their users instead of hoping."""
    cj = interpreter().journey(journey_id, 1)
    if cj is None:
        raise KeyError(journey_id)
    for n in range(1, 10_000):
        uid = f"{prefix}{n}"
        if in_holdout(uid, journey_id, cj.holdout_percent) != holdout:
            continue
        if all(cj.variant_of(uid, node) == name for node, name in (variants or {}).items()):
            return uid
    raise AssertionError(f"no user id {prefix}<n> fits {journey_id} holdout={holdout} variants={variants}")


class Sent(NamedTuple):
    """What a scenario asserts about an action: who gets what, on which channel, when."""

    action_id: str
    channel: str
    template: str | None
    ts: datetime
    to: dict[str, str]

    @property
    def user_id(self) -> str:
        """The user, from the action id (`journey:version:user:node:entry`)."""
        return self.action_id.split(":", 2)[2].rsplit(":", 2)[0]

    @property
    def journey_id(self) -> str:
        """The journey, from the action id."""
        return self.action_id.split(":", 1)[0]

    @property
    def node_id(self) -> str:
        """The node, from the action id (without `#n` / `~fb`)."""
        part = self.action_id.rsplit(":", 2)[1]
        return part.split("#", 1)[0].split("~", 1)[0]


@dataclass
class Scenario:
    """The result of replaying a scenario, with readers shaped for assertions."""

    result: ReplayResult
    rendered: dict[str, dict[str, Any]] = field(default_factory=dict)

    def records(self, user: str | None = None) -> list[ActionRecord]:
        """Action records (optionally of one user), in emission order."""
        return [a for a in self.result.actions if user is None or a.user_id == user]

    def sent(self, user: str | None = None) -> list[Sent]:
        """(action_id, channel, template, ts, to) of every action, in emission order."""
        return [Sent(a.action_id, a.channel, a.template, a.ts, dict(a.to)) for a in self.records(user)]

    def action(self, action_id: str) -> ActionRecord:
        """The action record with this id."""
        for a in self.result.actions:
            if a.action_id == action_id:
                return a
        raise KeyError(action_id)

    def outcomes(self, journey: str, user: str) -> list[OutcomeRecord]:
        """Every outcome of `user` in `journey`, in order."""
        return [o for o in self.result.outcomes if o.journey_id == journey and o.user_id == user]

    def story(self, journey: str, user: str) -> list[tuple[str, str | None, str | None]]:
        """(kind, node, detail) of the outcomes that tell what happened: entries, branches, splits,
        suppressions, deferrals, conversions, exits and errors."""
        out = []
        for o in self.outcomes(journey, user):
            kind = o.kind.value
            deferred = kind == "node" and (o.detail or "").startswith("deferred:")
            if kind in KEY_KINDS or deferred:
                out.append((kind, o.node_id, o.detail))
        return out

    def journeys_entered(self, user: str) -> list[str]:
        """Ids of the journeys `user` entered, in order (to prove the rest of the library stayed out)."""
        return [o.journey_id for o in self.result.outcomes if o.user_id == user and o.kind.value == "entered"]

    def profile(self, user: str) -> dict[str, Any]:
        """The user's profile at the end of the scenario."""
        raw = self.result.states.get(user)
        return dict(codec.decode(raw).profile) if raw is not None else {}

    def text(self, action_id: str, name: str) -> str:
        """One rendered field of an action (`subject`, `body`, `url`, `body.owner`…)."""
        return self.rendered[action_id][name]


def render(action: ActionRecord) -> dict[str, Any]:
    """Render an action as its dispatcher would: the template's fields, or an inline webhook's
    `url`, `headers.*` and `body.*`; a missing value raises `RenderError`."""
    context = RenderContext.from_action(action)
    templates = bundle().templates
    if action.template is not None:
        return dict(_renderer.render(templates[action.template], context).fields)
    fields: dict[str, Any] = {}
    for key, value in action.params.items():
        _render_param(key, value, context, action, fields)
    return fields


def _render_param(path: str, value: Any, context: RenderContext, action: ActionRecord, out: dict[str, Any]) -> None:
    if isinstance(value, str):
        name = f"{action.journey_id}/{action.node_id}"
        out[path] = _renderer.render_string(value, context, template=name, field=path)
    elif isinstance(value, dict):
        for key, sub in value.items():
            _render_param(f"{path}.{key}", sub, context, action, out)
    else:
        out[path] = value


def run(
    events: Iterable[Event],
    until: datetime,
    guardrails: Guardrails = GUARDRAILS,
) -> Scenario:
    """Replay `events` through the whole library, then let time run to `until`; render every action."""
    result = replay(interpreter(guardrails), list(events), until=until)
    scenario = Scenario(result)
    for action in result.actions:
        scenario.rendered[action.action_id] = render(action)
    return scenario


def days(n: float) -> timedelta:
    """A timedelta of `n` days (reads well in scenario timelines)."""
    return timedelta(days=n)
