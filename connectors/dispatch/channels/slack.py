"""Slack through an incoming webhook: `POST <webhook URL>` with `{"text": …}` as JSON.

Slack answers `200 ok`; errors are plain-text codes: `invalid_payload`, `no_text` (400),
`action_prohibited` (403), `channel_not_found` (404), `channel_is_archived` (410) are permanent,
429 carries `Retry-After`. The webhook URL is a secret: it never appears in errors or logs.
"""

from __future__ import annotations

from typing import ClassVar

from connectors.dispatch.channels import http
from connectors.dispatch.plugin import (
    AdapterContext,
    ChannelAdapter,
    ChannelPlugin,
    Commit,
    DeliveryResult,
    OutgoingMessage,
)
from connectors.errors import ChannelConfigError, PermanentDeliveryError
from jobs.settings import SlackSettings
from jobs.spec.records import DeliveryStatus
from jobs.spec.template import SlackTemplate


class SlackAdapter(ChannelAdapter):
    """Posts messages to one incoming webhook."""

    def __init__(self, settings: SlackSettings) -> None:
        self._url = settings.webhook_url.get_secret_value() if settings.webhook_url else ""
        self._http = http.client(settings.timeout_s)

    def deliver(self, message: OutgoingMessage, commit: Commit) -> DeliveryResult:
        text = message.content.get("text") if message.content else None
        if not text:
            raise PermanentDeliveryError("slack needs a template with text")
        request = self._http.build_request("POST", self._url, json={"text": text})
        response = http.send(self._http, request, commit, "slack")
        if response.status_code >= 300:
            code = http.short_body(response, 60) or None
            http.raise_for_provider(response, "slack", code=code, message="")
        return DeliveryResult(status=DeliveryStatus.DELIVERED)

    def close(self) -> None:
        self._http.close()


class SlackPlugin(ChannelPlugin):
    """Slack incoming webhooks (`dispatch.slack.webhook_url`)."""

    name: ClassVar[str] = "slack"
    description: ClassVar[str] = "Slack incoming webhook"
    template_model = SlackTemplate

    def check(self, context: AdapterContext) -> None:
        if context.settings.dispatch.slack.webhook_url is None:
            raise ChannelConfigError("slack: set dispatch.slack.webhook_url")

    def create_adapter(self, context: AdapterContext) -> ChannelAdapter:
        return SlackAdapter(context.settings.dispatch.slack)
