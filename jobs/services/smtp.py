"""A local SMTP server (aiosmtpd) that stores each message as an `.eml` file."""

from __future__ import annotations

import smtplib
import sys
from pathlib import Path

from jobs.services.base import Service


class SmtpService(Service):
    """Runs `jobs.services.smtp_server` with this interpreter; mail lands in `<home>/mail`."""

    name = "smtp"
    start_timeout_s = 30.0

    @property
    def address(self) -> str:
        return f"{self.settings.smtp.host}:{self.settings.smtp.port}"

    @property
    def mail_dir(self) -> Path:
        return self.settings.home / "mail"

    def ports(self) -> list[tuple[str, int]]:
        return [(self.settings.smtp.host, self.settings.smtp.port)]

    def prepare(self) -> None:
        self.mail_dir.mkdir(parents=True, exist_ok=True)

    def command(self) -> list[str]:
        s = self.settings.smtp
        return [
            sys.executable,
            "-m",
            "jobs.services.smtp_server",
            "--host", s.host,
            "--port", str(s.port),
            "--mail-dir", str(self.mail_dir),
        ]

    def check_health(self) -> None:
        with smtplib.SMTP(self.settings.smtp.host, self.settings.smtp.port, timeout=2) as client:
            code, _ = client.noop()
            if code != 250:
                raise OSError(f"SMTP NOOP answered {code}")
