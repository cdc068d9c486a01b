"""The platform is real: 10,000 events through Kafka, a thread-mode PyFlink job, back to Kafka."""

from __future__ import annotations

import json
import time
import urllib.request
import uuid
from collections import Counter

from kafka import KafkaConsumer, KafkaProducer

from connectors.flink_kafka import kafka_sink, kafka_source
from connectors.kafka_admin import delete_topics, ensure_topics
from jobs.services import Service
from jobs.settings import Settings

EVENTS = 10_000
USERS = 500


def test_counts_per_user_through_kafka_with_web_ui(kafka: Service, settings: Settings) -> None:
    from jobs.flink_env import create_env
    from jobs.smoke import build_count_job

    run = uuid.uuid4().hex[:8]
    topic_in, topic_out = f"smoke.in.{run}", f"smoke.out.{run}"
    ensure_topics(settings, [topic_in])
    # The end-of-input timer stamps results far in the future; let the broker stamp them instead.
    ensure_topics(settings, [topic_out], configs={"message.timestamp.type": "LogAppendTime"})
    try:
        expected: Counter[str] = Counter()
        producer = KafkaProducer(bootstrap_servers=settings.kafka.bootstrap_servers, linger_ms=5)
        for i in range(EVENTS):
            user = f"u{(i * 7919) % USERS}"
            expected[user] += 1
            event = {"event_id": f"e{i}", "type": "page.viewed", "user_id": user, "ts": "2026-11-22T10:00:00Z"}
            producer.send(topic_in, key=user.encode(), value=json.dumps(event).encode())
        producer.flush()
        producer.close()

        env = create_env(settings, state_backend="hashmap", checkpointing=False)
        source = kafka_source(settings, [topic_in], f"smoke-{run}", start="earliest", bounded=True)
        build_count_job(env, source, kafka_sink(settings, topic_out))
        client = env.execute_async(f"smoke-{run}")

        # The web UI answers while the job runs and lists it.
        overview = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{settings.flink.web_url}/jobs/overview", timeout=2) as resp:
                    overview = json.load(resp)
                break
            except OSError:
                time.sleep(0.2)
        assert overview is not None, f"the Flink web UI did not answer on {settings.flink.web_url}"
        assert any(job["name"] == f"smoke-{run}" for job in overview["jobs"])

        client.get_job_execution_result().result()

        consumer = KafkaConsumer(
            topic_out,
            bootstrap_servers=settings.kafka.bootstrap_servers,
            auto_offset_reset="earliest",
            consumer_timeout_ms=5000,
        )
        rows = [json.loads(m.value) for m in consumer]
        consumer.close()
        counts = {row["user_id"]: row["count"] for row in rows}
        assert len(rows) == len(counts) == USERS
        assert counts == dict(expected)
        assert sum(counts.values()) == EVENTS
    finally:
        delete_topics(settings, [topic_in, topic_out])
