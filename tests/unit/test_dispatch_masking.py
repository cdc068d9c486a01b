"""Personal data masked and secrets redacted in logs and error texts."""

from __future__ import annotations

import logging

import pytest
from pydantic import SecretStr

from connectors.dispatch.masking import RedactingFilter, mask_email, mask_phone, mask_text, secret_values
from jobs.settings import Settings

pytestmark = pytest.mark.unit


def test_addresses_are_masked() -> None:
    assert mask_email("ada@example.com") == "a**@e******.com"
    assert mask_phone("+14155550100") == "+1******0100"
    text = mask_text("550 <ada.lovelace@example.org> unknown; sms to +44 20 7946 0958 failed; port 1025 on 2026-11-22")
    assert "ada.lovelace" not in text and "7946" not in text
    assert "0958" in text and "1025" in text and "2026-11-22" in text


def test_every_secret_of_the_settings_is_found() -> None:
    target = {"url_prefix": "https://a", "auth": {"kind": "bearer", "token": "tok-2"}}
    settings = Settings.load(dispatch={
        "sms": {"auth_token": "tw-secret-1"}, "slack": {"webhook_url": "https://hooks/x"},
        "webhook": {"targets": [target]}, "unsubscribe_secret": "uns-3"})
    assert {"tw-secret-1", "https://hooks/x", "tok-2", "uns-3"} <= set(secret_values(settings))
    assert "tw-secret-1" not in repr(settings) and "tw-secret-1" not in str(settings.dispatch.sms)
    assert isinstance(settings.dispatch.sms.auth_token, SecretStr)


def test_log_records_are_redacted_and_masked(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("journeys.test.redaction")
    flt = RedactingFilter(["https://hooks.slack.com/services/T0/B0/s3cr3t", "tw-secret-1"])
    logger.addFilter(flt)
    try:
        with caplog.at_level(logging.INFO, logger=logger.name):
            logger.info("posting to %s with token %s for %s", "https://hooks.slack.com/services/T0/B0/s3cr3t",
                        "tw-secret-1", "ada@example.com")
            try:
                raise ValueError("auth tw-secret-1 refused for +14155550100")
            except ValueError:
                logger.exception("failed")
    finally:
        logger.removeFilter(flt)
    text = caplog.text
    assert "s3cr3t" not in text and "tw-secret-1" not in text and "ada@" not in text and "5550100" not in text
    assert "posting to *** with token *** for a**@e******.com" in text
