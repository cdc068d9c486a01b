"""`journeys demo`: the main pipeline end to end on the local platform, with a summary.

Today it is the platform smoke pipeline: synthetic events into Kafka, the Flink job counting
events per user (thread mode, keyed state, event-time timers), results read back from Kafka.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from jobs.commands.common import SettingsOption, load_settings

EVENT_TYPES = ("page.viewed", "product.viewed", "cart.updated", "order.completed", "login")
EVENT_WEIGHTS = (50, 25, 12, 5, 8)


def _events(users: int, count: int, seed: int) -> list[dict[str, object]]:
    rng = random.Random(seed)
    start = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
    out = []
    for i in range(count):
        kind = rng.choices(EVENT_TYPES, EVENT_WEIGHTS)[0]
        out.append(
            {
                "event_id": f"demo-{seed}-{i}",
                "type": kind,
                "user_id": f"u{rng.randrange(users)}",
                "ts": (start + timedelta(seconds=i)).isoformat().replace("+00:00", "Z"),
                "props": {"cart_value": rng.randrange(5, 200)} if kind == "cart.updated" else {},
            }
        )
    return out


def demo(
    users: Annotated[int, typer.Option(envvar="JOURNEYS_DEMO_USERS", help="synthetic users")] = 2000,
    events: Annotated[int, typer.Option(envvar="JOURNEYS_DEMO_EVENTS", help="events to produce")] = 20000,
    seed: Annotated[int, typer.Option(envvar="JOURNEYS_DEMO_SEED", help="random seed")] = 7,
    settings: SettingsOption = None,
) -> None:
    """Start the local services, push synthetic events through Kafka and the Flink job, report."""
    from kafka import KafkaConsumer, KafkaProducer

    from connectors.flink_kafka import kafka_sink, kafka_source
    from connectors.kafka_admin import ensure_topics
    from jobs.flink_env import create_env
    from jobs.services import resolve
    from jobs.smoke import build_count_job

    conf = load_settings(settings)
    for service in resolve(conf):
        started = service.start()
        typer.echo(f"{service.name:<6} {service.address:<22} {'started' if started else 'running'}")

    run = uuid.uuid4().hex[:8]
    topic_in, topic_out = f"demo.events.{run}", f"demo.counts.{run}"
    ensure_topics(conf, [topic_in])
    ensure_topics(conf, [topic_out], configs={"message.timestamp.type": "LogAppendTime"})

    batch = _events(users, events, seed)
    t0 = time.monotonic()
    producer = KafkaProducer(bootstrap_servers=conf.kafka.bootstrap_servers, linger_ms=10)
    for event in batch:
        producer.send(topic_in, key=str(event["user_id"]).encode(), value=json.dumps(event).encode())
    producer.flush()
    producer.close()
    produce_s = time.monotonic() - t0
    typer.echo(f"produced {len(batch):,} events for {users:,} users to '{topic_in}' in {produce_s:.1f}s")

    env = create_env(conf, state_backend="hashmap", checkpointing=False)
    build_count_job(
        env,
        kafka_source(conf, [topic_in], f"demo-{run}", start="earliest", bounded=True),
        kafka_sink(conf, topic_out),
    )
    typer.echo(f"running the Flink job (web UI: {conf.flink.web_url})")
    t1 = time.monotonic()
    env.execute(f"journeys-demo-{run}")
    job_s = time.monotonic() - t1

    consumer = KafkaConsumer(
        topic_out,
        bootstrap_servers=conf.kafka.bootstrap_servers,
        auto_offset_reset="earliest",
        consumer_timeout_ms=5000,
    )
    counts = {row["user_id"]: row["count"] for row in (json.loads(m.value) for m in consumer)}
    consumer.close()
    expected = Counter(str(e["user_id"]) for e in batch)
    by_type = Counter(str(e["type"]) for e in batch)
    ok = counts == dict(expected)

    typer.echo(f"job finished in {job_s:.1f}s: {len(counts):,} users counted in '{topic_out}'")
    typer.echo("events by type: " + ", ".join(f"{t} {n:,}" for t, n in by_type.most_common()))
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
    typer.echo("most active users: " + ", ".join(f"{u} ({n})" for u, n in top))
    typer.echo(f"every count matches what was produced: {'yes' if ok else 'NO'}")
    typer.echo("services keep running for you to explore (kcat -b 127.0.0.1:9092 -L); `make down` stops them")
    if not ok:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add `demo` to the CLI."""
    app.command("demo")(demo)
