"""Keeping personal data and secrets out of logs, dead letters and delivery records.

`mask_email("ada@example.com")` gives `a**@e******.com`; `mask_phone("+14155550100")` gives
`+1*******0100`; `mask_text` finds e-mail addresses and phone numbers inside free text (provider
error messages quote them). `RedactingFilter` is a logging filter that applies `mask_text` and
replaces every known secret value with `***` in each record before it is written.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

from pydantic import BaseModel, SecretStr

_EMAIL = re.compile(r"([A-Za-z0-9._%+\-]+)@([A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*)\.([A-Za-z]{2,})")
# Numbers in international (E.164) form, as providers need them; dates, ports and ids stay readable.
_PHONE = re.compile(r"(?<![\w+])\+\d[\d \-()]{6,18}\d(?!\w)")


def mask_email(address: str) -> str:
    """Keep the first letter of the local part and of the domain, and the top-level domain."""
    match = _EMAIL.fullmatch(address.strip())
    if not match:
        return _mask_middle(address)
    local, domain, tld = match.groups()
    return f"{local[0]}{'*' * max(len(local) - 1, 2)}@{domain[0]}{'*' * max(len(domain) - 1, 2)}.{tld}"


def mask_phone(number: str) -> str:
    """Keep a leading `+` and country digit and the last four digits."""
    digits = re.sub(r"\D", "", number)
    if len(digits) <= 4:
        return "*" * len(digits)
    head = ("+" if number.strip().startswith("+") else "") + digits[:1]
    return f"{head}{'*' * (len(digits) - 5)}{digits[-4:]}"


def mask_token(token: str) -> str:
    """Device tokens and other opaque identifiers: the first four characters only."""
    return f"{token[:4]}…({len(token)})" if len(token) > 4 else "****"


def mask_address(kind: str, value: str) -> str:
    """Mask an address by its kind (`email`, `phone`, `push_token`, anything else)."""
    if kind == "email":
        return mask_email(value)
    if kind == "phone":
        return mask_phone(value)
    return mask_token(value)


def mask_text(text: str) -> str:
    """Mask every e-mail address and phone number found in free text."""
    text = _EMAIL.sub(lambda m: mask_email(m.group(0)), text)
    return _PHONE.sub(lambda m: mask_phone(m.group(0)), text)


def _mask_middle(value: str) -> str:
    if len(value) <= 2:
        return "*" * len(value)
    return f"{value[0]}{'*' * (len(value) - 2)}{value[-1]}"


def secret_values(model: BaseModel) -> list[str]:
    """Every non-empty `SecretStr` value inside a settings model (nested models, lists, dicts)."""
    found: list[str] = []

    def walk(value: object) -> None:
        if isinstance(value, SecretStr):
            secret = value.get_secret_value()
            if secret:
                found.append(secret)
        elif isinstance(value, BaseModel):
            for _, sub in value:
                walk(sub)
        elif isinstance(value, dict):
            for sub in value.values():
                walk(sub)
        elif isinstance(value, list | tuple):
            for sub in value:
                walk(sub)

    walk(model)
    return found


class RedactingFilter(logging.Filter):
    """Masks personal data and blanks out secrets in every log record that passes through."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        # Longest first, so a secret containing another is replaced whole.
        self._secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        """`text` with secrets replaced by `***` and personal data masked."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return mask_text(text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg = self.redact(message)
        record.args = None
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        return True


def install_redaction(secrets: Iterable[str], logger: logging.Logger | None = None) -> RedactingFilter:
    """Attach a `RedactingFilter` to every handler of `logger` (the root logger by default)."""
    target = logger or logging.getLogger()
    flt = RedactingFilter(secrets)
    for handler in target.handlers:
        handler.addFilter(flt)
    return flt


def setup_logging(secrets: Iterable[str], level: str = "INFO") -> None:
    """Log to stderr with timestamps, every record masked and redacted (for worker processes)."""
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # kafka-python is chatty at INFO about every rebalance step; httpx logs every request's URL at
    # INFO, and some URLs are secrets (Slack webhooks).
    for name in ("kafka", "httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    install_redaction(secrets)
