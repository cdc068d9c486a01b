"""The exceptions of the journey language.

`JourneysError` is the root; `SpecError` is a problem with a single journey or template
document (unreadable file, wrong shape); `ValidationFailed` carries every `Problem` found at
once, each naming file, journey, node and field, so a user fixes them in one pass.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class Severity(StrEnum):
    """Errors stop a journey from being used; warnings are reported but allowed."""

    ERROR = "error"
    WARNING = "warning"


class Problem(BaseModel):
    """One thing wrong with a journey or template, located as precisely as known."""

    model_config = ConfigDict(frozen=True)

    file: str | None = None
    line: int | None = None
    journey: str | None = None
    template: str | None = None
    node: str | None = None
    field: str | None = None
    message: str
    severity: Severity = Severity.ERROR

    def __str__(self) -> str:
        where = []
        if self.journey:
            where.append(f"journey {self.journey}")
        if self.template:
            where.append(f"template {self.template}")
        if self.node:
            where.append(f"node {self.node}")
        prefix = ""
        if self.file:
            prefix = f"{self.file}:{self.line}: " if self.line else f"{self.file}: "
        located = ", ".join(where)
        if located:
            prefix += located + ": "
        tag = "warning: " if self.severity is Severity.WARNING else ""
        return f"{prefix}{tag}{self.message}"

    @property
    def is_error(self) -> bool:
        """True for errors, False for warnings."""
        return self.severity is Severity.ERROR


class JourneysError(Exception):
    """Root of every error the journey language raises on purpose."""


class SpecError(JourneysError):
    """A journey or template document that cannot be read or has the wrong shape."""

    def __init__(self, message: str, *, file: str | None = None) -> None:
        super().__init__(f"{file}: {message}" if file else message)
        self.file = file
        self.message = message


class ValidationFailed(JourneysError):
    """Validation found errors; `problems` lists all of them (and any warnings)."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        errors = [p for p in self.problems if p.is_error]
        head = f"{len(errors)} error(s) in journeys/templates"
        super().__init__(head + "".join(f"\n  {p}" for p in errors))

    @property
    def errors(self) -> list[Problem]:
        """Only the errors."""
        return [p for p in self.problems if p.is_error]


class SettingsError(JourneysError):
    """The settings file or a `JOURNEYS_…` variable is invalid."""


class ServiceError(JourneysError):
    """A local service (Kafka, Redis, SMTP) could not be started, stopped or reached."""


class PortInUseError(ServiceError):
    """A port a local service needs is held by another process."""
