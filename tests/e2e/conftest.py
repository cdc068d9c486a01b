"""Fixtures of the end-to-end tier."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from dispatch_kit import DispatchEnv

from jobs.services import Service
from jobs.settings import Settings


@pytest.fixture
def dispatch_env(kafka: Service, redis_service: Service, smtp: Service, settings: Settings,
                 tmp_path: Path) -> Iterator[DispatchEnv]:
    """An isolated dispatch setup on the real local Kafka, Redis and SMTP server."""
    env = DispatchEnv(settings, tmp_path)
    try:
        yield env
    finally:
        env.cleanup()
