"""Kafka source and sink builders for journeys' Flink jobs (the Flink Kafka connector)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from jobs.settings import Settings

if TYPE_CHECKING:
    from pyflink.datastream.connectors.kafka import KafkaSink, KafkaSource


def kafka_source(
    settings: Settings,
    topics: list[str],
    group_id: str,
    *,
    start: Literal["earliest", "committed", "latest"] = "committed",
    bounded: bool = False,
) -> KafkaSource:
    """A source of UTF-8 string values from `topics`.

    `start="committed"` resumes from the group's committed offsets and falls back to the
    earliest offset for a new group. `bounded=True` stops at the offsets that are latest when
    the job starts (for batch-like runs and tests).
    """
    from pyflink.common.serialization import SimpleStringSchema
    from pyflink.datastream.connectors.kafka import (
        KafkaOffsetResetStrategy,
        KafkaOffsetsInitializer,
        KafkaSource,
    )

    prefix = settings.kafka.topic_prefix
    starting = {
        "earliest": KafkaOffsetsInitializer.earliest,
        "latest": KafkaOffsetsInitializer.latest,
        "committed": lambda: KafkaOffsetsInitializer.committed_offsets(KafkaOffsetResetStrategy.EARLIEST),
    }[start]()
    builder = (
        KafkaSource.builder()
        .set_bootstrap_servers(settings.kafka.bootstrap_servers)
        .set_topics(*[prefix + t for t in topics])
        .set_group_id(group_id)
        .set_starting_offsets(starting)
        .set_value_only_deserializer(SimpleStringSchema())
        # Offsets are committed on checkpoints; they are for monitoring lag, the checkpoint is
        # the source of truth on recovery.
        .set_property("commit.offsets.on.checkpoint", "true")
        .set_property("partition.discovery.interval.ms", "60000")
    )
    if bounded:
        builder = builder.set_bounded(KafkaOffsetsInitializer.latest())
    return builder.build()


def kafka_sink(
    settings: Settings,
    topic: str,
    *,
    exactly_once: bool = False,
    transactional_id_prefix: str | None = None,
) -> KafkaSink:
    """A sink writing UTF-8 string values to `topic`.

    With `exactly_once`, records become visible to `read_committed` consumers at each
    checkpoint; the transactional id prefix must stay the same across restarts of one job.
    """
    from pyflink.common.serialization import SimpleStringSchema
    from pyflink.datastream.connectors.base import DeliveryGuarantee
    from pyflink.datastream.connectors.kafka import KafkaRecordSerializationSchema, KafkaSink

    full_topic = settings.kafka.topic_prefix + topic
    serializer = (
        KafkaRecordSerializationSchema.builder()
        .set_topic(full_topic)
        .set_value_serialization_schema(SimpleStringSchema())
        .build()
    )
    builder = (
        KafkaSink.builder()
        .set_bootstrap_servers(settings.kafka.bootstrap_servers)
        .set_record_serializer(serializer)
    )
    if exactly_once:
        builder = (
            builder.set_delivery_guarantee(DeliveryGuarantee.EXACTLY_ONCE)
            .set_transactional_id_prefix(transactional_id_prefix or f"journeys-{topic}")
            .set_property("transaction.timeout.ms", str(15 * 60 * 1000))
        )
    else:
        builder = builder.set_delivery_guarantee(DeliveryGuarantee.AT_LEAST_ONCE)
    return builder.build()
