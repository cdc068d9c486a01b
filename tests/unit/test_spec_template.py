from pathlib import Path

import pytest
from pydantic import ValidationError

from jobs.spec.loader import load_template
from jobs.spec.template import (
    EmailTemplate,
    PushTemplate,
    WebhookTemplate,
    parse_template,
    template_json_schema,
)

pytestmark = pytest.mark.unit

DATA = Path(__file__).parent / "data" / "valid" / "templates"


def test_email_template_from_the_design():
    tpl = load_template(DATA / "cart_reminder.yaml")
    assert isinstance(tpl, EmailTemplate)
    assert tpl.subject.startswith("{{ profile.first_name")
    assert set(tpl.rendered_fields()) == {"subject", "text", "html"}


def test_push_template_fields_include_data():
    tpl = load_template(DATA / "cart_push.yaml")
    assert isinstance(tpl, PushTemplate)
    assert tpl.rendered_fields()["data.deeplink"] == "shop://cart"


@pytest.mark.parametrize(
    "data",
    [
        {"id": "t", "channel": "sms", "body": "hi", "subject": "x"},
        {"id": "t", "channel": "email", "subject": "s"},
        {"id": "t", "channel": "fax", "body": "x"},
        {"id": "t", "channel": "webhook", "url": "http://x", "method": "FETCH"},
        {"id": "", "channel": "sms", "body": "x"},
    ],
)
def test_bad_templates(data):
    with pytest.raises(ValidationError):
        parse_template(data)


def test_every_channel_parses():
    for data in [
        {"id": "a", "channel": "in_app", "title": "t", "body": "b", "cta": {"label": "Go", "url": "/x"}},
        {"id": "b", "channel": "slack", "text": "hi"},
        {
            "id": "c",
            "channel": "webhook",
            "url": "https://x/{{ user_id }}",
            "headers": {"X-Key": "k"},
            "body": "{}",
        },
    ]:
        assert parse_template(data).id == data["id"]
    assert isinstance(parse_template({"id": "c", "channel": "webhook", "url": "u"}), WebhookTemplate)


def test_schema_lists_channels():
    schema = template_json_schema()
    assert {
        "EmailTemplate",
        "SmsTemplate",
        "PushTemplate",
        "InAppTemplate",
        "SlackTemplate",
        "WebhookTemplate",
    } <= set(schema["$defs"])
