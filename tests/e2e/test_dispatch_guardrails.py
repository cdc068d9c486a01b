"""Guardrails at send time: consent and suppression re-checked in Redis, opt-in rules, expired and malformed
actions; and a graceful SIGTERM that finishes in-flight sends and leaves the rest to the next worker."""

from __future__ import annotations

import json
import signal
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from dispatch_kit import DispatchEnv
from kafka import KafkaProducer
from provider_servers import wait_for

from connectors.dispatch import keys
from connectors.dispatch.consent import ConsentStatus, ConsentStore
from connectors.dispatch.deadletter import DeadLetterReason
from jobs.spec.nodes import Priority
from jobs.spec.records import DeliveryStatus

pytestmark = pytest.mark.e2e


def test_an_opt_out_that_races_the_send_still_stops_it(dispatch_env: DispatchEnv) -> None:
    env = dispatch_env
    env.configure({"guardrails": {"consent": [{"channel": "email", "category": "newsletter", "require_opt_in": True}]}})
    env.create_topics(["email"])
    client = env.redis()
    store = ConsentStore(client)
    # The job decided to send these; meanwhile the users changed their minds (or were erased).
    store.set_consent(env.user(1), "email", "marketing", ConsentStatus.OPTED_OUT)
    store.set_consent(env.user(2), "*", "*", ConsentStatus.OPTED_OUT)
    store.suppress_user(env.user(3))
    store.suppress_address(f"{env.user(4)}@{env.domain}".upper())  # addresses compare case-insensitively
    store.set_consent(env.user(6), "email", "newsletter", ConsentStatus.OPTED_IN)
    actions = [
        env.action("email", 1, template="cart_reminder"),  # opted out of email marketing
        env.action("email", 2, template="cart_reminder"),  # opted out of everything
        env.action("email", 3, template="cart_reminder"),  # suppressed user
        env.action("email", 4, template="cart_reminder"),  # suppressed address
        env.action("email", 5, template="cart_reminder", category="newsletter"),  # opt-in required, none given
        env.action("email", 6, template="cart_reminder", category="newsletter"),  # opted in
        env.action("email", 7, template="cart_reminder", priority=Priority.TRANSACTIONAL),  # sent
        env.action("email", 1, template="cart_reminder", node="n2", category="receipts",
                   priority=Priority.TRANSACTIONAL),  # another category: sent
        env.action("email", 8, template="cart_reminder", not_after=datetime.now(UTC) - timedelta(minutes=1)),
        env.action("email", 9, template="cart_reminder", to={}, profile={"first_name": "X"}),  # no address
    ]
    env.produce(actions)
    env.produce_raw("email", [b"{not json", b'{"action_id": "x"}'])
    try:
        with env.dispatcher(["email"]) as d:
            wait_for(lambda: sum(d.stats()["email"].values()) >= len(actions) + 2, 20, what="every record handled")
            stats = d.stats()["email"]
    finally:
        for n in range(1, 10):
            client.delete(f"journeys:consent:{env.user(n)}")
        client.srem(keys.SUPPRESSED_USERS, env.user(3))
        client.srem(keys.SUPPRESSED_ADDRESSES, keys.address_digest(f"{env.user(4)}@{env.domain}"))
    assert stats == {"delivered": 3, "suppressed": 7, "malformed": 2}
    sent_to = sorted(p.read_bytes().split(b"X-Journeys-Rcpt-To: ")[1].split(b"\r\n")[0].decode() for p in env.mail())
    assert sent_to == sorted(f"{env.user(n)}@{env.domain}" for n in (1, 6, 7))
    reasons = {d.action_id: d.error for d in env.deliveries() if d.status is DeliveryStatus.SUPPRESSED}
    assert [reasons[a.action_id] for a in (actions[0], actions[1], actions[2], actions[3], actions[4], actions[8],
                                           actions[9])] == [
        "consent", "consent", "suppression_list", "suppression_list", "consent", "expired", "no_address"]
    malformed = env.dead_letters("email")
    assert [dl.reason for dl in malformed] == [DeadLetterReason.MALFORMED] * 2
    assert sorted(dl.raw or "" for dl in malformed) == ['{"action_id": "x"}', "{not json"]


def test_sigterm_finishes_in_flight_sends_and_the_next_worker_does_the_rest(
    dispatch_env: DispatchEnv, tmp_path: Path
) -> None:
    env = dispatch_env
    env.configure({"dispatch": {"rate_limits": {"email": {"per_second": 40}}}})
    env.create_topics(["email"], partitions=2)
    actions = [env.action("email", i, template="cart_reminder") for i in range(240)]
    env.produce(actions)
    first = env.worker_process(["email"], tmp_path / "first.log")
    wait_for(lambda: len(env.mail()) >= 40, 30, 0.2, "the first sends")
    first.send_signal(signal.SIGTERM)
    started = time.monotonic()
    code = first.wait(20)
    stopped_in = time.monotonic() - started
    assert code == 0, (tmp_path / "first.log").read_text()[-3000:]
    assert stopped_in < 5
    done_by_first = len(env.mail())
    assert done_by_first < len(actions)
    assert "signal SIGTERM" in (tmp_path / "first.log").read_text()

    second = env.worker_process(["email"], tmp_path / "second.log")
    try:
        wait_for(lambda: len(env.mail()) >= len(actions) and env.group_lag("email", f"g{env.run}") == 0,
                 40, 0.5, "the rest")
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(20) == 0
    recipients = Counter(p.read_bytes().split(b"X-Journeys-Rcpt-To: ")[1].split(b"\r\n")[0] for p in env.mail())
    assert len(recipients) == len(actions) and max(recipients.values()) == 1
    print(f"\nSIGTERM: stopped in {stopped_in:.2f}s after {done_by_first} sends; the next worker sent the rest")


def test_consent_events_in_the_stream_reach_the_dispatchers(dispatch_env: DispatchEnv, tmp_path: Path) -> None:
    env = dispatch_env
    env.create_topics(["email"])
    opted_out, erased, kept = env.user(1), env.user(2), env.user(3)
    now = datetime.now(UTC).isoformat()
    events = [
        {"event_id": "c1", "type": "consent.updated", "user_id": opted_out, "ts": now,
         "props": {"channel": "email", "category": "marketing", "status": "opted_out"}},
        {"event_id": "c2", "type": "user.deleted", "user_id": erased, "ts": now},
        {"event_id": "c3", "type": "page.viewed", "user_id": kept, "ts": now},
    ]
    producer = KafkaProducer(bootstrap_servers=env.settings.kafka.bootstrap_servers)
    for e in events:
        producer.send(env.topic("events"), key=e["user_id"].encode(), value=json.dumps(e).encode())
    producer.flush()
    producer.close()
    client = env.redis()
    worker = env.worker_process(["email"], tmp_path / "w.log")  # consent sync is on by default
    try:
        wait_for(lambda: client.hget(f"journeys:consent:{opted_out}", "email:marketing") == "opted_out"
                 and client.sismember(keys.SUPPRESSED_USERS, erased), 30, 0.2, "consent mirrored into Redis")
        env.produce([env.action("email", n, template="cart_reminder") for n in (1, 2, 3)])
        wait_for(lambda: len(env.deliveries()) >= 3, 30, 0.5, "three decisions")
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(30) == 0
        client.delete(f"journeys:consent:{opted_out}")
        client.srem(keys.SUPPRESSED_USERS, erased)
    by_user = {d.user_id: (d.status, d.error) for d in env.deliveries()}
    assert by_user == {
        opted_out: (DeliveryStatus.SUPPRESSED, "consent"),
        erased: (DeliveryStatus.SUPPRESSED, "suppression_list"),
        kept: (DeliveryStatus.DELIVERED, None),
    }
