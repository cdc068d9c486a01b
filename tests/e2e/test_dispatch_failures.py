"""Failures: transient errors retried with backoff (and Retry-After), permanent ones dead-lettered at once,
bounces suppressing the address, a circuit breaker per provider, and dead letters replayed after a fix."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter

import pytest
from dispatch_kit import DispatchEnv
from provider_servers import Answer, FcmServer, TwilioServer, WebhookServer, wait_for

from connectors.dispatch import keys
from connectors.dispatch.deadletter import DeadLetterReason
from jobs.settings import PROJECT_ROOT
from jobs.spec.records import DeliveryStatus

pytestmark = pytest.mark.e2e


def _hook(env: DispatchEnv, n: int, server: WebhookServer) -> object:
    return env.action("webhook", n, params={"method": "POST", "url": f"{server.base_url}/hook", "body": {"n": n}})


def test_transient_permanent_and_exhausted_webhook_failures(dispatch_env: DispatchEnv) -> None:
    env = dispatch_env
    env.configure({"dispatch": {"retry": {"max_attempts": 4}}})
    env.create_topics(["webhook"])
    with (
        WebhookServer() as flaky,
        WebhookServer() as throttled,
        WebhookServer(always=Answer(400, {"error": "unknown customer"})) as refusing,
        WebhookServer(always=Answer(503, "down")) as down,
    ):
        flaky.fail_next(Answer(503, "busy"), Answer(502, "bad gateway"))
        throttled.fail_next(Answer(429, "slow down", {"Retry-After": "1"}))
        actions = [_hook(env, 1, flaky), _hook(env, 2, throttled), _hook(env, 3, refusing), _hook(env, 4, down)]
        env.produce(actions)
        with env.dispatcher(["webhook"]) as d:
            wait_for(lambda: d.stats()["webhook"].get("delivered", 0) == 2
                     and d.stats()["webhook"].get("failed", 0) == 2, 30, what="two delivered, two failed")
        assert len(flaky.requests) == 3 and len(flaky.accepted) == 1
        assert len(throttled.requests) == 2
        assert throttled.requests[1].at - throttled.requests[0].at >= 0.95  # Retry-After honoured
        assert len(refusing.requests) == 1  # permanent: no retry
        assert len(down.requests) == 4  # every attempt used
        for server in (flaky, throttled, refusing, down):
            assert server.violations == []

    by_action: dict[str, list] = {}
    for d in env.deliveries():
        by_action.setdefault(d.action_id, []).append(d)
    statuses = {a: [(d.status, d.attempt) for d in ds] for a, ds in by_action.items()}
    assert statuses[actions[0].action_id] == [
        (DeliveryStatus.RETRYING, 1), (DeliveryStatus.RETRYING, 2), (DeliveryStatus.DELIVERED, 3)]
    assert statuses[actions[1].action_id] == [(DeliveryStatus.RETRYING, 1), (DeliveryStatus.DELIVERED, 2)]
    assert statuses[actions[2].action_id] == [(DeliveryStatus.FAILED, 1)]
    assert statuses[actions[3].action_id][-1] == (DeliveryStatus.FAILED, 4)

    letters = {dl.action_id: dl for dl in env.dead_letters("webhook")}
    assert set(letters) == {actions[2].action_id, actions[3].action_id}
    assert letters[actions[2].action_id].reason is DeadLetterReason.PERMANENT
    assert "HTTP 400" in letters[actions[2].action_id].error
    assert letters[actions[3].action_id].reason is DeadLetterReason.RETRIES_EXHAUSTED
    assert letters[actions[3].action_id].attempts == 4

    events = {e.props["action_id"]: e.type for e in env.events()}
    assert events == {
        actions[0].action_id: "message.delivered",
        actions[1].action_id: "message.delivered",
        actions[2].action_id: "message.failed",
        actions[3].action_id: "message.failed",
    }


def test_circuit_opens_on_a_failing_provider_and_recovers(dispatch_env: DispatchEnv) -> None:
    env = dispatch_env
    env.configure({"dispatch": {"retry": {"max_attempts": 20, "base_delay_s": 0.05, "max_delay_s": 0.1},
                                "circuit": {"failure_threshold": 3, "reset_timeout_s": 1.0}}})
    env.create_topics(["webhook"])
    with WebhookServer() as server:
        server.fail_next(*[Answer(503, "down")] * 6)
        actions = [_hook(env, i, server) for i in range(10)]
        env.produce(actions)
        with env.dispatcher(["webhook"], concurrency=2) as d:
            wait_for(lambda: d.stats()["webhook"].get("delivered", 0) == 10, 40, what="all delivered")
            stats = d.stats()["webhook"]
        # While open, senders wait instead of calling: far fewer calls than attempts would make.
        assert stats.get("circuit_wait", 0) > 0
        assert len(server.accepted) == 10
        assert len(server.requests) <= 6 + 10 + 2


def test_bounce_dead_letters_and_suppresses_the_number(dispatch_env: DispatchEnv) -> None:
    env = dispatch_env
    sid, token = "AC" + "2" * 32, "tok-secret"
    with TwilioServer(sid, token, invalid_numbers={"+15005550001"}) as twilio:
        env.configure({"dispatch": {"sms": {"base_url": twilio.base_url, "account_sid": sid, "auth_token": token,
                                            "messaging_service_sid": "MG" + "3" * 32}}})
        env.create_topics(["sms"])
        bad = env.action("sms", 1, template="cart_sms", to={"phone": "+15005550001"})
        later = env.action("sms", 1, template="cart_sms", to={"phone": "+15005550001"}, node="n2")
        env.produce([bad])
        with env.dispatcher(["sms"]) as d:
            wait_for(lambda: d.stats()["sms"].get("bounced", 0) == 1, 20, what="the bounce")
            env.produce([later])
            wait_for(lambda: d.stats()["sms"].get("suppressed", 0) == 1, 20, what="the next one suppressed")
        assert len(twilio.requests) == 1 and twilio.violations == []
        assert twilio.requests[0].form["MessagingServiceSid"].startswith("MG")
    [letter] = env.dead_letters("sms")
    assert letter.reason is DeadLetterReason.BOUNCED and "21211" in letter.error
    assert "+15005550001" not in letter.error  # masked
    client = env.redis()
    assert client.sismember(keys.SUPPRESSED_ADDRESSES, keys.address_digest("+15005550001"))
    client.srem(keys.SUPPRESSED_ADDRESSES, keys.address_digest("+15005550001"))
    statuses = Counter(d.status for d in env.deliveries())
    assert statuses == {DeliveryStatus.BOUNCED: 1, DeliveryStatus.SUPPRESSED: 1}
    assert [e.type for e in env.events()] == ["message.bounced"]


def _cli(env: DispatchEnv, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "jobs.cli", *args], cwd=PROJECT_ROOT, env=env.environ(),
                          capture_output=True, text=True, timeout=60)


def test_missing_variable_dead_letters_then_replays_after_the_template_is_fixed(dispatch_env: DispatchEnv) -> None:
    env = dispatch_env
    env.create_topics(["email"])
    strict = {"id": "order_note", "channel": "email", "subject": "About order {{ event.order_id }}",
              "text": "Hello {{ profile.first_name }}"}
    (env.templates / "order_note.yaml").write_text(json.dumps(strict))
    action = env.action("email", 1, template="order_note", event={"cart_value": 10})  # no order_id
    env.produce([action])
    with env.dispatcher(["email"]) as d:
        wait_for(lambda: d.stats()["email"].get("failed", 0) == 1, 20, what="the dead letter")
    assert env.mail() == []
    [letter] = env.dead_letters("email")
    assert letter.reason is DeadLetterReason.TEMPLATE
    assert "order_id" in letter.error and "subject" in letter.error

    listed = _cli(env, "dlq", "list", "--channel", "email")
    assert listed.returncode == 0, listed.stderr
    assert action.action_id in listed.stdout and "template" in listed.stdout and "dead" in listed.stdout

    # The fix: a default for the missing value. Then replay.
    strict["subject"] = "About order {{ event.order_id | default('your order') }}"
    (env.templates / "order_note.yaml").write_text(json.dumps(strict))
    replayed = _cli(env, "dlq", "replay", "--channel", "email")
    assert replayed.returncode == 0, replayed.stderr
    assert f"replayed {action.action_id}" in replayed.stdout
    with env.dispatcher(["email"]) as d:
        wait_for(lambda: d.stats()["email"].get("delivered", 0) == 1, 20, what="the replayed send")
    [mail] = env.mail()
    assert b"Subject: About order your order" in mail.read_bytes()

    # Replaying again finds nothing dead: each action is sent at most once more per replay.
    again = _cli(env, "dlq", "replay", "--channel", "email")
    assert "0 replayed" in again.stderr
    assert action.action_id not in _cli(env, "dlq", "list", "--channel", "email").stdout


def test_a_dead_push_token_bounces(dispatch_env: DispatchEnv) -> None:
    env = dispatch_env
    with FcmServer("p1", "fcm-token-secret", unregistered={"dead-device"}) as fcm:
        env.configure({"dispatch": {"push": {"base_url": fcm.base_url, "project_id": "p1",
                                             "access_token": "fcm-token-secret"}}})
        env.create_topics(["push"])
        env.produce([env.action("push", 1, template="cart_push", to={"push_token": "dead-device"})])
        with env.dispatcher(["push"]) as d:
            wait_for(lambda: d.stats()["push"].get("bounced", 0) == 1, 20, what="the bounce")
        assert fcm.violations == [] and len(fcm.requests) == 1
    [letter] = env.dead_letters("push")
    assert letter.reason is DeadLetterReason.BOUNCED and "UNREGISTERED" in letter.error
    client = env.redis()
    assert client.srem(keys.SUPPRESSED_ADDRESSES, keys.address_digest("dead-device")) == 1
