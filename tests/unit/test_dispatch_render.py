"""Template rendering: sandboxed Jinja2, defaults and conditional blocks, missing values are errors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors.dispatch.render import RenderContext, TemplateRenderer
from connectors.errors import RenderError
from jobs.spec.records import ActionRecord
from jobs.spec.template import parse_template

pytestmark = pytest.mark.unit

CTX = RenderContext(profile={"first_name": "<Ada>", "plan": None, "tags": ["a", "b"]}, event={"cart_value": 80})


def render(source: str, mode: str = "text", ctx: RenderContext = CTX) -> str:
    return TemplateRenderer().render_string(source, ctx, template="t", field="f", mode=mode)  # type: ignore[arg-type]


def test_defaults_and_conditional_blocks_work_on_missing_values() -> None:
    assert render("{{ profile.last_name | default('friend') }}") == "friend"
    assert render("{% if profile.vip %}VIP{% else %}regular{% endif %}") == "regular"
    assert render("{% for p in event.products %}x{% else %}none{% endfor %}") == "none"
    assert render("{{ profile.missing is defined }}/{{ profile.first_name is defined }}") == "False/True"
    assert render("{% for t in profile.tags %}{{ t }}{% endfor %}") == "ab"


@pytest.mark.parametrize(
    "source",
    [
        "{{ profile.last_name }}",  # absent
        "{{ profile.plan }}",  # null counts as missing
        "{{ profile.address.city }}",  # deeper
        "{{ nothing }}",
        "{{ nothing ~ 'x' }}",
        "{{ nothing + 1 }}",
        "{{ profile.plan | upper }}",
    ],
)
def test_a_missing_value_without_default_is_an_error_never_a_blank(source: str) -> None:
    with pytest.raises(RenderError, match=r"template t, field f: .*missing"):
        render(source)


def test_html_fields_escape_values_but_not_the_template() -> None:
    assert render("<b>{{ profile.first_name }}</b>", mode="html") == "<b>&lt;Ada&gt;</b>"
    assert render("<b>{{ profile.first_name }}</b>") == "<b><Ada></b>"
    assert render("<{{ profile.first_name }}|x>", mode="slack") == "<&lt;Ada&gt;|x>"


@pytest.mark.parametrize("source", ["{{ ''.__class__.__mro__ }}", "{{ profile.__class__ }}",
                                    "{{ cycler.__init__.__globals__ }}"])
def test_the_sandbox_refuses_unsafe_attributes(source: str) -> None:
    with pytest.raises(RenderError):
        render(source)


def test_a_whole_template_with_per_field_escaping() -> None:
    template = parse_template({
        "id": "cart", "channel": "email", "subject": "{{ profile.first_name }}, hi",
        "text": "{{ event.cart_value }}", "html": "<p>{{ profile.first_name }}</p>",
    })
    out = TemplateRenderer().render(template, CTX)
    assert out.fields == {"subject": "<Ada>, hi", "text": "80", "html": "<p>&lt;Ada&gt;</p>"}
    push = parse_template({"id": "p", "channel": "push", "title": "T", "body": "B",
                           "data": {"deeplink": "shop://{{ event.cart_value }}"}})
    assert TemplateRenderer().render(push, CTX).group("data") == {"deeplink": "shop://80"}


def test_context_from_an_action_has_profile_event_journey_and_ids() -> None:
    now = datetime.now(UTC)
    action = ActionRecord(action_id="j:2:u1:n:1", journey_id="j", version=2, node_id="n", user_id="u1",
                          channel="email", vars={"profile": {"a": 1}, "event": {"b": 2}}, ts=now, emitted_at=now)
    ctx = RenderContext.from_action(action, unsubscribe_url="https://u")
    out = render("{{ profile.a }} {{ event.b }} {{ journey.id }}:{{ journey.version }}:{{ journey.node }} "
                 "{{ user_id }} {{ action_id }} {{ unsubscribe_url }}", ctx=ctx)
    assert out == "1 2 j:2:n u1 j:2:u1:n:1 https://u"
