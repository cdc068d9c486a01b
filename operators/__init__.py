"""What runs inside Flink per user: the pure interpreter core and thin Flink adapters."""
