"""Local services for development and tests: Kafka (KRaft), Redis and an SMTP server."""

from __future__ import annotations

from jobs.errors import ServiceError
from jobs.services.base import Service, ServiceStatus
from jobs.services.kafka import KafkaService
from jobs.services.redis import RedisService
from jobs.services.smtp import SmtpService
from jobs.settings import Settings

SERVICES: dict[str, type[Service]] = {
    "kafka": KafkaService,
    "redis": RedisService,
    "smtp": SmtpService,
}

__all__ = ["SERVICES", "Service", "ServiceStatus", "resolve"]


def resolve(settings: Settings, names: list[str] | None = None) -> list[Service]:
    """Service objects for `names` (all when empty), in start order."""
    wanted = names or list(SERVICES)
    unknown = [n for n in wanted if n not in SERVICES]
    if unknown:
        raise ServiceError(f"unknown service {', '.join(unknown)}; known: {', '.join(SERVICES)}")
    return [SERVICES[n](settings) for n in SERVICES if n in wanted]
