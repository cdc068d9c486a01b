"""The journey language and its compiler, the Flink job builder, local services and the `journeys` CLI."""
