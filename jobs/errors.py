"""The project's exception tree. Every error a user can cause is a `JourneysError` with a
message that names what is wrong; the CLI prints it as one line and exits non-zero."""

from __future__ import annotations


class JourneysError(Exception):
    """Base of every error journeys raises on purpose."""


class SettingsError(JourneysError):
    """The settings file or a `JOURNEYS_…` variable is invalid."""


class ServiceError(JourneysError):
    """A local service (Kafka, Redis, SMTP) could not be started, stopped or reached."""


class PortInUseError(ServiceError):
    """A port a local service needs is held by another process."""
