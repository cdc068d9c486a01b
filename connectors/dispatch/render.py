"""Rendering message templates: Jinja2 in a sandbox, strict about missing values.

Templates see `profile`, `event` and `journey` (from the action's `vars`), plus `user_id`,
`action_id`, `channel` and whatever the caller adds (e.g. `unsubscribe_url`). The rules:

- A variable with no value (absent, or `null`) and no `default` is an error for that action
  (`RenderError`, which sends it to the dead-letter topic), never a blank.
- `{{ x | default('there') }}`, `{% if profile.plan %}…{% endif %}`, `{% if x is defined %}` and
  `{% for item in event.items %}…{% else %}…{% endfor %}` work on missing values: conditions treat them
  as false and loops as empty, so conditional blocks need no defaults.
- The `html` field of email (and any field a plugin's template marks as HTML) is autoescaped;
  Slack's `text` escapes `&`, `<` and `>` in substituted values, as Slack asks. Literal template text
  is never escaped.
- The sandbox refuses access to unsafe attributes (`__class__`, functions' globals, …).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from jinja2 import ChainableUndefined, TemplateError, Undefined, UndefinedError
from jinja2.sandbox import SandboxedEnvironment, SecurityError
from markupsafe import Markup
from pydantic import BaseModel, ConfigDict, Field

from connectors.errors import RenderError
from jobs.spec.records import ActionRecord
from jobs.spec.template import TemplateBase

EscapeMode = Literal["text", "html", "slack"]

#: Fields of built-in templates that are not plain text.
BUILTIN_ESCAPES: dict[tuple[str, str], EscapeMode] = {("email", "html"): "html", ("slack", "text"): "slack"}


class StrictUndefined(ChainableUndefined):
    """Missing values: falsy in conditions and empty in loops, an error when printed or computed with."""

    __slots__ = ()

    def __bool__(self) -> bool:
        return False

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(())

    def __str__(self) -> str:
        self._fail_with_undefined_error()
        return ""  # pragma: no cover - the line above raises

    def __html__(self) -> str:
        self._fail_with_undefined_error()
        return ""  # pragma: no cover

    __len__ = Undefined._fail_with_undefined_error
    __eq__ = Undefined._fail_with_undefined_error
    __ne__ = Undefined._fail_with_undefined_error
    __hash__ = Undefined._fail_with_undefined_error  # type: ignore[assignment]
    __contains__ = Undefined._fail_with_undefined_error


def _slack_escape(value: Any) -> Any:
    if isinstance(value, Undefined):
        return value
    text = str(value)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class _DataFirstEnvironment(SandboxedEnvironment):
    """`event.items` means the data's `items`, not the mapping's method: payloads often carry
    `items`, `keys` or `values`, and marketers write dots. Jinja looks attributes up first."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, dict) and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)


def _environment(mode: EscapeMode) -> SandboxedEnvironment:
    env = _DataFirstEnvironment(
        undefined=StrictUndefined,
        autoescape=mode == "html",
        finalize=_slack_escape if mode == "slack" else None,
        keep_trailing_newline=True,
    )
    return env


class RenderContext(BaseModel):
    """The variables a template sees."""

    model_config = ConfigDict(frozen=True)

    profile: dict[str, Any] = Field(default_factory=dict)
    event: dict[str, Any] = Field(default_factory=dict)
    journey: dict[str, Any] = Field(default_factory=dict)
    extra: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def from_action(cls, action: ActionRecord, **extra: Any) -> RenderContext:
        """The variables of an action: its `vars`, the journey's ids, and `extra`."""
        variables = dict(action.vars)
        journey = {"id": action.journey_id, "version": action.version, "node": action.node_id}
        journey.update(variables.pop("journey", None) or {})
        more = {k: v for k, v in variables.items() if k not in ("profile", "event")}
        more.update(user_id=action.user_id, action_id=action.action_id, channel=action.channel)
        more.update(extra)
        return cls(
            profile=variables.get("profile") or {},
            event=variables.get("event") or {},
            journey=journey,
            extra=more,
        )

    def variables(self) -> dict[str, Any]:
        """Everything as one mapping; `null` values are dropped so they count as missing."""
        out = {**self.extra, "profile": self.profile, "event": self.event, "journey": self.journey}
        return _drop_nulls(out)


def _drop_nulls(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


class RenderedMessage(BaseModel):
    """A rendered template: each field's text by its dotted name (`subject`, `data.deeplink`, `cta.url`)."""

    model_config = ConfigDict(frozen=True)

    template_id: str
    template_version: int = 1
    channel: str
    fields: dict[str, str]

    def get(self, name: str, default: str | None = None) -> str | None:
        """One field's text, or `default`."""
        return self.fields.get(name, default)

    def group(self, prefix: str) -> dict[str, str]:
        """The fields under `prefix.` (e.g. push `data`), keyed by the rest of their name."""
        start = prefix + "."
        return {k[len(start) :]: v for k, v in self.fields.items() if k.startswith(start)}


class TemplateRenderer:
    """Renders templates and loose template strings; compiled templates are cached. Thread-safe."""

    #: Compiled templates kept at most (they are small; templates change rarely).
    cache_size: ClassVar[int] = 4096

    def __init__(self) -> None:
        self._envs = {mode: _environment(mode) for mode in ("text", "html", "slack")}
        self._cache: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def _compiled(self, source: str, mode: EscapeMode) -> Any:
        key = (mode, source)
        compiled = self._cache.get(key)
        if compiled is None:
            compiled = self._envs[mode].from_string(source)
            with self._lock:
                if len(self._cache) >= self.cache_size:
                    self._cache.clear()
                self._cache[key] = compiled
        return compiled

    def render_string(
        self, source: str, context: RenderContext | Mapping[str, Any], *, template: str, field: str,
        mode: EscapeMode = "text",
    ) -> str:
        """Render one template string; raises RenderError naming `template` and `field`.

        `context` is a RenderContext, or the mapping its `variables()` returned (to render several
        strings against one context without preparing it each time).
        """
        variables = context.variables() if isinstance(context, RenderContext) else context
        try:
            return str(self._compiled(source, mode).render(variables))
        except UndefinedError as exc:
            raise RenderError(template, field, f"{exc.message} (a value is missing and has no default)") from None
        except SecurityError as exc:
            raise RenderError(template, field, f"not allowed in a template: {exc}") from None
        except TemplateError as exc:
            raise RenderError(template, field, f"{type(exc).__name__}: {exc}") from None
        except (TypeError, ValueError, ArithmeticError, LookupError) as exc:
            raise RenderError(template, field, f"{type(exc).__name__}: {exc}") from None

    def render(self, template: TemplateBase, context: RenderContext) -> RenderedMessage:
        """Render every field of `template`; raises RenderError on the first field that fails."""
        escapes: Mapping[str, EscapeMode] = getattr(type(template), "journeys_escapes", {})
        variables = context.variables()
        fields: dict[str, str] = {}
        for name, source in template.rendered_fields().items():
            mode = escapes.get(name) or BUILTIN_ESCAPES.get((template.channel, name), "text")
            fields[name] = self.render_string(source, variables, template=template.id, field=name, mode=mode)
        return RenderedMessage(
            template_id=template.id, template_version=template.version, channel=template.channel, fields=fields
        )


def html_text(value: str) -> Markup:
    """Mark text as safe HTML (for adapters assembling HTML around rendered fields)."""
    return Markup(value)
