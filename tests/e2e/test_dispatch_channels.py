"""Every built-in channel against its real protocol: SMTP, Twilio, FCM v1, Slack, signed webhooks, CRM,
the Redis inbox and flags; deliveries recorded and fed back as `message.*` events."""

from __future__ import annotations

import email
import json
from email import policy

import pytest
from dispatch_kit import DispatchEnv
from provider_servers import FcmServer, SlackServer, TwilioServer, WebhookServer, wait_for

from connectors.dispatch.channels.flag import read_flags
from connectors.dispatch.channels.in_app import mark_seen, read_inbox
from connectors.dispatch.unsubscribe import verify_token
from jobs.spec.records import DeliveryStatus

pytestmark = pytest.mark.e2e

SID, TOKEN = "AC" + "1" * 32, "twilio-auth-token-secret"
PROJECT, FCM_TOKEN = "journeys-test", "ya29.fcm-access-token-secret"


def test_every_channel_delivers_through_its_provider_and_feeds_back(dispatch_env: DispatchEnv) -> None:
    env = dispatch_env
    with (
        TwilioServer(SID, TOKEN) as twilio,
        FcmServer(PROJECT, FCM_TOKEN) as fcm,
        SlackServer("/services/T000/B000/slacksecretpath") as slack,
        WebhookServer(secret="hmac-shared-secret") as hooks,
        WebhookServer(bearer="crm-bearer-secret") as crm,
    ):
        env.configure({"dispatch": {
            "sms": {"base_url": twilio.base_url, "account_sid": SID, "auth_token": TOKEN, "from_number": "+15005550006",
                    "status_callback_url": "http://127.0.0.1:8000/v1/twilio/status"},
            "push": {"base_url": fcm.base_url, "project_id": PROJECT, "access_token": FCM_TOKEN},
            "slack": {"webhook_url": slack.url},
            "webhook": {"targets": [
                {"url_prefix": hooks.base_url, "auth": {"kind": "hmac", "secret": "hmac-shared-secret"}}
            ]},
            "crm": {"url": f"{crm.base_url}/api/contacts", "auth": {"kind": "bearer", "token": "crm-bearer-secret"}},
        }})
        channels = ["email", "sms", "push", "slack", "webhook", "crm", "in_app", "flag"]
        env.create_topics(channels)
        actions = [
            env.action("email", 1, template="cart_reminder"),
            env.action("sms", 2, template="cart_sms", to={"phone": "+14155550102"}),
            env.action("push", 3, template="cart_push", to={"push_token": "device-token-3"}),
            env.action("slack", 4, template="team_alert", profile={"first_name": "Ada <4> & co"}),
            env.action("webhook", 5, params={"method": "POST", "url": f"{hooks.base_url}/orders/{{{{ user_id }}}}",
                                             "headers": {"X-Plan": "{{ profile.plan }}"},
                                             "body": {"user": "{{ user_id }}", "cart": "{{ event.cart_value }}"}}),
            env.action("crm", 6, params={"object": "contact",
                                         "fields": {"stage": "nudged", "name": "{{ profile.first_name }}"}}),
            env.action("in_app", 7, template="inbox_offer"),
            env.action("flag", 8, params={"flag": "new_checkout", "value": "variant-b"}),
        ]
        env.produce(actions)
        with env.dispatcher(["all"]) as d:
            assert sorted(d.choice.channels) == sorted(channels)
            wait_for(lambda: sum(s.get("delivered", 0) + s.get("sent", 0) for s in d.stats().values()) >= 8,
                     30, what="8 deliveries")

        # Email: personalised, multipart, List-Unsubscribe with a token the API can verify.
        [mail] = env.mail()
        msg = email.message_from_bytes(mail.read_bytes(), policy=policy.default)
        assert msg["Subject"] == "Ada1, your cart is waiting"
        assert msg.get_content_type() == "multipart/alternative"
        assert "You left 21 worth of items. Free shipping!" in msg.get_body(("plain",)).get_content()
        assert "<b>21</b>" in msg.get_body(("html",)).get_content()
        unsubscribe = msg["List-Unsubscribe"].strip("<>")
        scope = verify_token("unsubscribe-secret-for-tests", unsubscribe.rsplit("/", 1)[1])
        assert (scope.user_id, scope.channel, scope.category) == (env.user(1), "email", "marketing")
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

        # Providers saw valid requests only.
        for server in (twilio, fcm, slack, hooks, crm):
            assert server.violations == [], (type(server).__name__, server.violations)
        [sms] = twilio.accepted
        assert sms.form["To"] == "+14155550102" and sms.form["Body"] == "Your cart (22) is waiting"
        assert sms.form["StatusCallback"].endswith(f"action_id={actions[1].action_id.replace(':', '%3A')}")
        [push] = fcm.accepted
        assert push.json["message"]["token"] == "device-token-3"
        assert push.json["message"]["notification"] == {
            "title": "Still thinking it over?", "body": "Your cart is saved, Ada3."}
        assert push.json["message"]["data"] == {"deeplink": "shop://cart/23", "action_id": actions[2].action_id}
        [post] = slack.accepted
        # Slack's escaping applies to substituted values; the template's own link syntax stays.
        assert post.json == {"text": "*Ada &lt;4&gt; &amp; co* converted <https://shop.example/admin|see>"}
        [hook] = hooks.accepted
        assert hook.path == f"/orders/{env.user(5)}" and hook.headers["x-plan"] == "pro"
        assert hook.json == {"user": env.user(5), "cart": "25"}
        assert hook.headers["idempotency-key"] == actions[4].action_id
        [contact] = crm.accepted
        assert contact.path == "/api/contacts"
        assert contact.json["fields"] == {"stage": "nudged", "name": "Ada6"} and contact.json["user_id"] == env.user(6)

    # In-app inbox and flags in Redis.
    client = env.redis()
    u7, u8 = env.user(7), env.user(8)
    [inbox] = read_inbox(client, u7)
    assert (inbox.title, inbox.body, inbox.cta.url if inbox.cta else None) == (
        "An offer for Ada7", "10% off your cart of 27", "shop://cart")
    assert mark_seen(client, u7, inbox.id) and read_inbox(client, u7, unseen_only=True) == []
    assert read_flags(client, u8)["new_checkout"] == "variant-b"
    client.delete(f"journeys:inbox:{u7}", f"journeys:inbox:{u7}:messages", f"journeys:flags:{u8}")

    # Every action has one recorded delivery; final ones come back as events for the journeys.
    deliveries = {d.action_id: d for d in env.deliveries()}
    assert set(deliveries) == {a.action_id for a in actions}
    assert deliveries[actions[1].action_id].status is DeliveryStatus.SENT  # Twilio: queued
    assert deliveries[actions[1].action_id].provider_id.startswith("SM")
    assert deliveries[actions[0].action_id].status is DeliveryStatus.DELIVERED
    events = {e.props["action_id"]: e for e in env.events()}
    assert events[actions[0].action_id].type == "message.delivered"
    assert events[actions[0].action_id].props["journey_id"] == actions[0].journey_id
    assert events[actions[0].action_id].props["node_id"] == "n1"
    assert actions[1].action_id not in events  # `sent` waits for the provider's report


def test_inbox_is_bounded_and_idempotent(dispatch_env: DispatchEnv) -> None:
    env = dispatch_env
    env.configure({"dispatch": {"in_app": {"max_messages": 3}}})
    env.create_topics(["in_app"])
    actions = [env.action("in_app", 1, template="inbox_offer", node=f"n{i}") for i in range(5)]
    env.produce(actions + actions[:2])  # two sent twice
    with env.dispatcher(["in_app"]) as d:
        wait_for(lambda: d.stats()["in_app"].get("delivered", 0) + d.stats()["in_app"].get("duplicate", 0) >= 7,
                 20, what="7 in-app actions")
    client = env.redis()
    u1 = env.user(1)
    inbox = read_inbox(client, u1, limit=10)
    assert [m.node_id for m in inbox] == ["n4", "n3", "n2"]
    assert client.hlen(f"journeys:inbox:{u1}:messages") == 3
    assert client.ttl(f"journeys:inbox:{u1}") > 0
    client.delete(f"journeys:inbox:{u1}", f"journeys:inbox:{u1}:messages")
    assert json.loads(json.dumps([m.model_dump(mode="json") for m in inbox]))[0]["title"] == "An offer for Ada1"
