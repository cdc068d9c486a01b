"""Test support for the dispatchers: an isolated corner of the shared broker, Redis and SMTP server.

Every test gets a `DispatchEnv` with its own topic prefix (so `actions.*`, `deliveries`, `events`
and `dlq.*` are its own), its own consumer groups, a templates folder, and a recipient domain
that marks its mail in the shared maildir. Settings are given as nested overrides, which become
`Settings.load(**overrides)` in this process and `JOURNEYS_…` variables for worker processes.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import redis
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from connectors.dispatch.deadletter import DeadLetter
from connectors.dispatch.runner import Dispatcher
from connectors.kafka_admin import delete_topics, ensure_topics
from connectors.topics import DELIVERIES, EVENTS, actions_topic, dlq_topic
from jobs.settings import PROJECT_ROOT, Settings
from jobs.spec.records import ActionRecord, DeliveryRecord, Event

TEMPLATES: dict[str, dict[str, Any]] = {
    "cart_reminder": {
        "id": "cart_reminder",
        "channel": "email",
        "subject": "{{ profile.first_name | default('there') }}, your cart is waiting",
        "text": "You left {{ event.cart_value }} worth of items."
        "{% if profile.plan == 'pro' %} Free shipping!{% endif %}",
        "html": "<p>Hi {{ profile.first_name | default('there') }}, you left <b>{{ event.cart_value }}</b>.</p>",
    },
    "cart_sms": {"id": "cart_sms", "channel": "sms", "body": "Your cart ({{ event.cart_value }}) is waiting"},
    "cart_push": {
        "id": "cart_push",
        "channel": "push",
        "title": "Still thinking it over?",
        "body": "Your cart is saved{% if profile.first_name %}, {{ profile.first_name }}{% endif %}.",
        "data": {"deeplink": "shop://cart/{{ event.cart_value }}"},
    },
    "team_alert": {"id": "team_alert", "channel": "slack", "text": "*{{ profile.first_name }}* converted <https://shop.example/admin|see>"},
    "inbox_offer": {
        "id": "inbox_offer",
        "channel": "in_app",
        "title": "An offer for {{ profile.first_name }}",
        "body": "10% off your cart of {{ event.cart_value }}",
        "cta": {"label": "Open cart", "url": "shop://cart"},
    },
}


def _flatten(prefix: str, value: Any, out: dict[str, str]) -> None:
    if isinstance(value, dict) and value:
        for k, v in value.items():
            _flatten(f"{prefix}__{k.upper()}", v, out)
    elif isinstance(value, list | dict):
        out[prefix] = json.dumps(value)
    else:
        out[prefix] = str(value)


class DispatchEnv:
    """One test's isolated dispatch setup."""

    def __init__(self, base: Settings, tmp: Path, overrides: dict[str, Any] | None = None) -> None:
        self.run = uuid.uuid4().hex[:10]
        self.tmp = tmp
        self.templates = tmp / "templates"
        self.templates.mkdir(exist_ok=True)
        for name, data in TEMPLATES.items():
            (self.templates / f"{name}.yaml").write_text(json.dumps(data))
        self.domain = f"{self.run}.journeys-test.example"
        self.mail_dir = base.home / "mail"
        self.started_ns = time.time_ns()
        self.overrides: dict[str, Any] = {
            "kafka": {"topic_prefix": f"t{self.run}."},
            "dispatch": {
                "templates_dir": str(self.templates),
                "template_reload_s": 0.5,
                "unsubscribe_secret": "unsubscribe-secret-for-tests",
                "claim_lease_s": 5,
                "session_timeout_ms": 6000,
                "retry": {"base_delay_s": 0.05, "max_delay_s": 0.5},
            },
        }
        self.configure(overrides or {})
        self._created: set[str] = set()

    # Settings -------------------------------------------------------------------------------

    def configure(self, overrides: dict[str, Any]) -> None:
        """Merge more overrides (nested dicts)."""

        def merge(into: dict[str, Any], more: dict[str, Any]) -> None:
            for k, v in more.items():
                if isinstance(v, dict) and isinstance(into.get(k), dict) and v:
                    merge(into[k], v)
                else:
                    into[k] = v

        merge(self.overrides, overrides)

    @property
    def settings(self) -> Settings:
        """The settings of this environment."""
        return Settings.load(**self.overrides)

    def environ(self, **extra: str) -> dict[str, str]:
        """The environment of a worker process with these settings."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("JOURNEYS_")}
        # Where the services are comes from this run's settings (they may be on other ports).
        s = self.settings
        env.update(
            {
                "JOURNEYS_HOME": str(s.home),
                "JOURNEYS_KAFKA__BOOTSTRAP_SERVERS": s.kafka.bootstrap_servers,
                "JOURNEYS_REDIS__HOST": s.redis.host,
                "JOURNEYS_REDIS__PORT": str(s.redis.port),
                "JOURNEYS_SMTP__HOST": s.smtp.host,
                "JOURNEYS_SMTP__PORT": str(s.smtp.port),
            }
        )
        flat: dict[str, str] = {}
        for section, value in self.overrides.items():
            _flatten(f"JOURNEYS_{section.upper()}", value, flat)
        env.update(flat)
        env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
        env.update(extra)
        return env

    # Kafka ----------------------------------------------------------------------------------

    def topic(self, name: str) -> str:
        """A topic's full name."""
        return f"t{self.run}.{name}"

    def create_topics(self, channels: list[str], partitions: int = 2) -> None:
        """Create the topics of these channels (and deliveries, events)."""
        names = [self.topic(n) for c in channels for n in (actions_topic(c), dlq_topic(c))]
        names += [self.topic(DELIVERIES), self.topic(EVENTS)]
        ensure_topics(self.settings, names, partitions=partitions)
        self._created.update(names)

    def produce(self, actions: list[ActionRecord], *, channel: str | None = None) -> None:
        """Write actions to their `actions.<channel>` topic, keyed by user."""
        producer = KafkaProducer(bootstrap_servers=self.settings.kafka.bootstrap_servers, linger_ms=5)
        try:
            for a in actions:
                topic = self.topic(actions_topic(channel or a.channel))
                self._created.add(topic)
                producer.send(topic, key=a.user_id.encode(), value=a.to_json())
            producer.flush()
        finally:
            producer.close()

    def produce_raw(self, channel: str, values: list[bytes]) -> None:
        """Write raw records to `actions.<channel>`."""
        producer = KafkaProducer(bootstrap_servers=self.settings.kafka.bootstrap_servers)
        try:
            for v in values:
                producer.send(self.topic(actions_topic(channel)), key=b"raw", value=v)
            producer.flush()
        finally:
            producer.close()

    def read(self, name: str, timeout_s: float = 10.0) -> list[bytes]:
        """Every record of a topic now (from the beginning to the current end)."""
        consumer = KafkaConsumer(bootstrap_servers=self.settings.kafka.bootstrap_servers, enable_auto_commit=False)
        try:
            topic = self.topic(name)
            parts = consumer.partitions_for_topic(topic) or set()
            tps = [TopicPartition(topic, p) for p in parts]
            if not tps:
                return []
            consumer.assign(tps)
            consumer.seek_to_beginning(*tps)
            end = consumer.end_offsets(tps)
            out: list[bytes] = []
            deadline = time.monotonic() + timeout_s
            while any(consumer.position(tp) < end[tp] for tp in tps) and time.monotonic() < deadline:
                for records in consumer.poll(timeout_ms=500).values():
                    out.extend(r.value for r in records)
            return out
        finally:
            consumer.close()

    def deliveries(self) -> list[DeliveryRecord]:
        """The `deliveries` topic."""
        return [DeliveryRecord.from_json(v) for v in self.read(DELIVERIES)]

    def events(self) -> list[Event]:
        """The `events` topic (feedback)."""
        return [Event.from_json(v) for v in self.read(EVENTS)]

    def dead_letters(self, channel: str) -> list[DeadLetter]:
        """The `dlq.<channel>` topic."""
        return [DeadLetter.from_json(v) for v in self.read(dlq_topic(channel))]

    def group_lag(self, channel: str, group: str) -> int:
        """Records of `actions.<channel>` not yet committed by `group`."""
        consumer = KafkaConsumer(bootstrap_servers=self.settings.kafka.bootstrap_servers, group_id=group,
                                 enable_auto_commit=False)
        try:
            topic = self.topic(actions_topic(channel))
            tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or set()]
            end = consumer.end_offsets(tps)
            lag = 0
            for tp in tps:
                committed = consumer.committed(tp) or 0
                lag += end[tp] - committed
            return lag
        finally:
            consumer.close()

    def group_ready(self, group: str, members: int) -> bool:
        """Whether consumer group `group` is stable with `members` members."""
        from kafka import KafkaAdminClient

        admin = KafkaAdminClient(bootstrap_servers=self.settings.kafka.bootstrap_servers)
        try:
            info = admin.describe_groups([group]).get(group) or {}
        finally:
            admin.close()
        return info.get("group_state") == "Stable" and len(info.get("members") or []) == members

    # Workers --------------------------------------------------------------------------------

    @contextlib.contextmanager
    def dispatcher(self, channels: list[str], **kwargs: Any) -> Iterator[Dispatcher]:
        """A dispatcher running in this process for the duration of the block."""
        d = Dispatcher(self.settings, channels, group_id=kwargs.pop("group_id", f"g{self.run}"), **kwargs)
        d.start()
        try:
            yield d
        finally:
            d.stop()
            d.wait()

    def worker_process(self, channels: list[str], log: Path, *, group: str | None = None,
                       extra_env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        """`journeys dispatch` as a process of its own."""
        argv = [sys.executable, "-m", "jobs.cli", "dispatch", "--group", group or f"g{self.run}"]
        for c in channels:
            argv += ["--channel", c]
        return subprocess.Popen(
            argv, cwd=PROJECT_ROOT, env=self.environ(**(extra_env or {})),
            stdout=log.open("ab"), stderr=subprocess.STDOUT,
        )

    # Actions and mail -----------------------------------------------------------------------

    def action(self, channel: str, n: int, *, template: str | None = None, to: dict[str, str] | None = None,
               profile: dict[str, Any] | None = None, event: dict[str, Any] | None = None,
               params: dict[str, Any] | None = None, node: str = "n1", **fields: Any) -> ActionRecord:
        """An action of this test for user `u<n>`."""
        now = datetime.now(UTC)
        user = self.user(n)
        return ActionRecord(
            action_id=f"j{self.run}:1:{user}:{node}:1",
            journey_id=f"j{self.run}",
            version=1,
            node_id=node,
            user_id=user,
            channel=channel,
            template=template,
            vars={"profile": profile if profile is not None else {"first_name": f"Ada{n}", "plan": "pro"},
                  "event": event if event is not None else {"cart_value": 20 + n}},
            to=to if to is not None else ({"email": f"{user}@{self.domain}"} if channel == "email" else {}),
            params=params or {},
            ts=now,
            emitted_at=now,
            not_after=fields.pop("not_after", now + timedelta(days=1)),
            **fields,
        )

    def user(self, n: int) -> str:
        """The id of this test's user number `n` (unique, since Redis is shared)."""
        return f"u{n}-{self.run}"

    def mail(self) -> list[Path]:
        """Files in the maildir addressed to this test's domain."""
        marker = self.domain.encode()
        found = []
        for path in self.mail_dir.iterdir():
            try:
                if int(path.name.split("-", 1)[0]) < self.started_ns:
                    continue
                with path.open("rb") as fh:
                    if marker in fh.read(300):
                        found.append(path)
            except (ValueError, OSError):
                continue
        return found

    def redis(self) -> redis.Redis:
        """A client of the shared Redis."""
        from connectors.dispatch.keys import redis_client

        return redis_client(self.settings)

    def cleanup(self) -> None:
        """Delete this test's topics and mail."""
        with contextlib.suppress(Exception):
            delete_topics(self.settings, sorted(self._created))
        for path in self.mail():
            path.unlink(missing_ok=True)


def header(path: Path, name: str) -> str | None:
    """One header of a stored message."""
    import email
    from email import policy

    msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    value = msg[name]
    return str(value) if value is not None else None
