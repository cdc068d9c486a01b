"""Kafka source/sink builders for Flink, dispatcher workers and channel adapters."""
