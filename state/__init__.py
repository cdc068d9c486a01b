"""The per-user state record: schema, compact versioned codec, TTL and migration."""
