"""Shared fixtures: settings and the local services, started through the project's own code.

A test that needs a service asks for it (`kafka`, `redis`, `smtp` fixtures); the service is
started if it is not running and stopped at the end of the session only if this session started
it. Nothing is ever skipped for a missing service: failing to start one fails the test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from jobs.services import SERVICES, Service
from jobs.settings import Settings

TIERS = ("unit", "flink", "e2e")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test belongs to the tier named by its folder (tests/unit, tests/flink, tests/e2e)."""
    for item in items:
        parts = Path(str(item.fspath)).parts
        for tier in TIERS:
            if tier in parts and not item.get_closest_marker(tier):
                item.add_marker(getattr(pytest.mark, tier))


@pytest.fixture(scope="session")
def settings() -> Settings:
    """The settings tests run with (defaults, the environment, `$JOURNEYS_SETTINGS`)."""
    return Settings.load()


class ServicePool:
    """Starts services on demand; stops at teardown only the ones it started."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.started: list[Service] = []

    def require(self, name: str) -> Service:
        service = SERVICES[name](self.settings)
        if service.start():
            self.started.append(service)
        return service

    def stop_started(self) -> None:
        for service in reversed(self.started):
            service.stop()
        self.started.clear()


@pytest.fixture(scope="session")
def service_pool(settings: Settings) -> Iterator[ServicePool]:
    pool = ServicePool(settings)
    try:
        yield pool
    finally:
        pool.stop_started()


@pytest.fixture(scope="session")
def kafka(service_pool: ServicePool) -> Service:
    """A running local Kafka broker with the platform's topics."""
    return service_pool.require("kafka")


@pytest.fixture(scope="session")
def redis_service(service_pool: ServicePool) -> Service:
    """A running local redis-server."""
    return service_pool.require("redis")


@pytest.fixture(scope="session")
def smtp(service_pool: ServicePool) -> Service:
    """A running local SMTP server storing mail as .eml files."""
    return service_pool.require("smtp")
