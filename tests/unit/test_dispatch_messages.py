"""What channels put on the wire, without the wire: MIME email, unsubscribe tokens, webhook requests and
signatures, feedback events, the plugin loader, the template store and `journeys template preview`."""

from __future__ import annotations

import email
import hashlib
import hmac
import json
from datetime import UTC, datetime
from email import policy
from pathlib import Path
from typing import ClassVar

import pytest
from typer.testing import CliRunner

from connectors.dispatch.channels.email import build_email, check_address, message_id
from connectors.dispatch.channels.webhook import authenticate, call_from_message, match_target, signature
from connectors.dispatch.feedback import feedback_event
from connectors.dispatch.plugin import (
    ChannelAdapter,
    ChannelPlugin,
    OutgoingMessage,
    _instantiate,
    load_channel_plugins,
)
from connectors.dispatch.render import RenderedMessage, TemplateRenderer
from connectors.dispatch.templates import TemplateStore
from connectors.dispatch.unsubscribe import UnsubscribeScope, make_token, verify_token
from connectors.errors import DispatchError, PermanentDeliveryError, PluginError, TemplateMissing
from jobs.settings import Settings, WebhookAuth, WebhookChannelSettings, WebhookTarget
from jobs.spec.nodes import Priority
from jobs.spec.records import ActionRecord, DeliveryRecord, DeliveryStatus

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def action(**fields: object) -> ActionRecord:
    base: dict[str, object] = dict(action_id="cart:3:u42:email_1:2", journey_id="cart", version=3, node_id="email_1",
                                   user_id="u42", channel="email", template="cart_reminder", ts=NOW, emitted_at=NOW)
    base.update(fields)
    return ActionRecord.model_validate(base)


SETTINGS = Settings.load(dispatch={"unsubscribe_secret": "k3y", "email": {"sender_name": "Shop Ü"}})


def mime(a: ActionRecord, fields: dict[str, str]) -> email.message.EmailMessage:
    content = RenderedMessage(template_id="t", channel="email", fields=fields)
    data = build_email(OutgoingMessage(action=a, content=content), SETTINGS, "ada@example.com")
    assert b"\n" not in data.replace(b"\r\n", b"")  # CRLF line ends only
    return email.message_from_bytes(data, policy=policy.default)  # type: ignore[return-value]


def test_email_is_multipart_with_unsubscribe_and_a_deterministic_message_id() -> None:
    msg = mime(action(), {"subject": "Ada, your cart is waiting ✓", "text": "Hi\n.leading dot", "html": "<p>Hi</p>"})
    assert msg["Subject"] == "Ada, your cart is waiting ✓"
    assert msg["From"].addresses[0].display_name == "Shop Ü"
    assert msg["Message-ID"] == message_id("cart:3:u42:email_1:2", "journeys.local")
    assert msg["Message-ID"] == mime(action(), {"subject": "x", "text": "y"})["Message-ID"]
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    url = msg["List-Unsubscribe"].strip("<>")
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = msg.get_body(("plain",)).get_content()
    assert ".leading dot" in text and f"Unsubscribe: {url}" in text
    assert f'href="{url}"' in msg.get_body(("html",)).get_content()
    assert verify_token("k3y", url.rsplit("/", 1)[1]) == UnsubscribeScope(user_id="u42", channel="email",
                                                                         category="marketing")


def test_transactional_email_has_no_unsubscribe_and_text_only_is_single_part() -> None:
    msg = mime(action(priority=Priority.TRANSACTIONAL), {"subject": "Receipt", "text": "Thanks"})
    assert msg["List-Unsubscribe"] is None and msg.get_content_type() == "text/plain"
    assert msg.get_content().strip() == "Thanks"


def test_a_template_placing_the_link_itself_gets_no_second_one() -> None:
    url = "http://127.0.0.1:8000/v1/unsubscribe/" + make_token("k3y", UnsubscribeScope(
        user_id="u42", channel="email", category="marketing"))
    msg = mime(action(), {"subject": "s", "text": f"Bye: {url}"})
    assert msg.get_content().count(url) == 1


@pytest.mark.parametrize("bad", ["no-at-sign", "a b@example.com", "ü@example.com", "a@", "<a@b.c>"])
def test_unusable_addresses_bounce(bad: str) -> None:
    with pytest.raises(PermanentDeliveryError) as err:
        check_address(bad)
    assert err.value.bounced


def test_forged_or_damaged_unsubscribe_tokens_are_refused() -> None:
    token = make_token("k3y", UnsubscribeScope(user_id="u1", channel="email", category="marketing"))
    with pytest.raises(DispatchError):
        verify_token("other", token)
    with pytest.raises(DispatchError):
        verify_token("k3y", token[:-2] + "xx")


def test_webhook_request_from_inline_params_with_hmac_signature() -> None:
    a = action(channel="webhook", template=None, params={
        "method": "post", "url": "https://crm.example/users/{{ user_id }}", "headers": {"X-Plan": "{{ profile.plan }}"},
        "body": {"id": "{{ user_id }}", "items": ["{{ event.n }}", 3]}},
        vars={"profile": {"plan": "pro"}, "event": {"n": 2}})
    call = call_from_message(OutgoingMessage(action=a), TemplateRenderer())
    assert (call.method, call.url) == ("POST", "https://crm.example/users/u42")
    assert call.headers["Idempotency-Key"] == a.action_id and call.headers["X-Plan"] == "pro"
    assert json.loads(call.body or b"") == {"id": "u42", "items": ["2", 3]}
    signed = authenticate(call, WebhookAuth(kind="hmac", secret="s3"), now=1_700_000_000)
    t, v1 = (p.split("=", 1)[1] for p in signed.headers["X-Journeys-Signature"].split(","))
    assert t == "1700000000"
    assert v1 == hmac.new(b"s3", b"1700000000." + (call.body or b""), hashlib.sha256).hexdigest()
    assert signature("s3", 1_700_000_000, call.body or b"") == signed.headers["X-Journeys-Signature"]
    bearer = authenticate(call, WebhookAuth(kind="bearer", token="tk"))
    assert bearer.headers["Authorization"] == "Bearer tk"
    basic = authenticate(call, WebhookAuth(kind="basic", username="u", password="p"))
    assert basic.headers["Authorization"] == "Basic dTpw"


def test_webhook_header_injection_and_odd_urls_are_refused() -> None:
    for params in ({"url": "https://x/", "headers": {"X": "a\r\nEvil: 1"}}, {"url": "file:///etc/passwd"}):
        a = action(channel="webhook", template=None, params=params)
        with pytest.raises(PermanentDeliveryError):
            call_from_message(OutgoingMessage(action=a), TemplateRenderer())


def test_the_longest_matching_target_provides_the_credentials() -> None:
    settings = WebhookChannelSettings(targets=[WebhookTarget(url_prefix="https://api.example/"),
                                               WebhookTarget(url_prefix="https://api.example/v2/")])
    assert match_target("https://api.example/v2/x", settings).url_prefix == "https://api.example/v2/"  # type: ignore[union-attr]
    assert match_target("https://other/", settings) is None


def test_feedback_events_carry_what_journeys_match_on_and_have_deterministic_ids() -> None:
    record = DeliveryRecord(action_id="cart:3:u42:email_1:2", channel="email", status=DeliveryStatus.BOUNCED,
                            attempt=1, ts=NOW, user_id="u42", journey_id="cart", node_id="email_1", error="550")
    event = feedback_event(record, action())
    assert event is not None and event.type == "message.bounced" and event.user_id == "u42"
    assert event.props["action_id"] == record.action_id and event.props["node_id"] == "email_1"
    assert event.event_id == feedback_event(record).event_id  # type: ignore[union-attr]
    for status in (DeliveryStatus.SENT, DeliveryStatus.RETRYING, DeliveryStatus.DUPLICATE, DeliveryStatus.SUPPRESSED):
        assert feedback_event(record.model_copy(update={"status": status})) is None


class FuturePlugin(ChannelPlugin):
    api_version: ClassVar[int] = 2
    name: ClassVar[str] = "future"

    def create_adapter(self, context: object) -> ChannelAdapter:  # type: ignore[override]
        raise NotImplementedError


def test_plugins_of_another_api_version_or_shape_are_refused() -> None:
    with pytest.raises(PluginError, match="plugin API version 2; this journeys supports version 1"):
        _instantiate("future", FuturePlugin)
    with pytest.raises(PluginError, match="not a journeys ChannelPlugin"):
        _instantiate("odd", object())
    assert {"email", "sms", "push", "slack", "webhook", "crm", "in_app", "flag"} <= set(load_channel_plugins())


def test_template_store_skips_broken_files_and_reloads_changes(tmp_path: Path) -> None:
    (tmp_path / "ok.yaml").write_text("id: ok\nchannel: sms\nbody: 'hi {{ profile.first_name }}'\n")
    (tmp_path / "broken.yaml").write_text("id: broken\nchannel: sms\nbody: [\n")
    store = TemplateStore(tmp_path, reload_every_s=0)
    assert store.ids() == ["ok"] and len(store.problems) == 1
    with pytest.raises(TemplateMissing):
        store.get("ok", "email")
    (tmp_path / "ok.yaml").write_text("id: ok\nchannel: sms\nbody: 'changed'\nversion: 2\n")
    assert store.reload() and store.get("ok").version == 2


def test_template_preview_renders_for_a_sample_user(tmp_path: Path) -> None:
    from jobs.cli import _register, app

    _register()
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "cart.yaml").write_text(
        "id: cart\nchannel: email\nsubject: \"{{ profile.first_name | default('there') }}, hi\"\n"
        "text: 'You left {{ event.cart_value }}'\n")
    user = tmp_path / "ada.yaml"
    user.write_text("profile: {first_name: Ada}\nevent: {cart_value: 80}\n")
    runner = CliRunner()
    argv = ["template", "preview", "cart", "--user-file", str(user), "--templates", str(tmp_path / "t")]
    ok = runner.invoke(app, argv)
    assert ok.exit_code == 0, ok.output
    assert "Ada, hi" in ok.output and "You left 80" in ok.output
    user.write_text("first_name: Bo\n")  # a bare profile, no event: the missing value is named
    bad = runner.invoke(app, argv)
    assert bad.exit_code == 1 and "cart_value" in bad.output


def test_twilio_status_callbacks_become_delivery_records() -> None:
    from connectors.dispatch.channels.sms import delivery_from_status_callback

    rec = delivery_from_status_callback({"MessageSid": "SM1", "MessageStatus": "undelivered", "ErrorCode": "30003"},
                                        "a:1:u:n:1")
    assert rec is not None and rec.status is DeliveryStatus.BOUNCED and rec.provider_id == "SM1"
    assert rec.error == "twilio error 30003"
    assert delivery_from_status_callback({"MessageStatus": "delivered"}, "a:1:u:n:1").status is DeliveryStatus.DELIVERED  # type: ignore[union-attr]
    assert delivery_from_status_callback({"MessageStatus": "receiving"}, "a:1:u:n:1") is None


def test_unlisted_webhook_urls_are_refused_when_only_targets_are_allowed() -> None:
    from connectors.dispatch.channels.webhook import WebhookAdapter

    settings = WebhookChannelSettings(allow_unlisted=False, targets=[WebhookTarget(url_prefix="https://ok.example/")])
    adapter = WebhookAdapter(settings, TemplateRenderer())
    ok = action(channel="webhook", template=None, params={"url": "https://ok.example/x"})
    assert adapter.prepare(OutgoingMessage(action=ok))[0].url == "https://ok.example/x"
    internal = action(channel="webhook", template=None, params={"url": "http://169.254.169.254/latest"})
    with pytest.raises(PermanentDeliveryError, match="not under any configured target"):
        adapter.prepare(OutgoingMessage(action=internal))
    adapter.close()
