"""Push notifications through the Firebase Cloud Messaging HTTP v1 API.

`POST {base_url}/v1/projects/{project_id}/messages:send` with `Authorization: Bearer <OAuth 2.0
access token>` and `{"message": {"token", "notification": {"title", "body"}, "data": {…}}}`.
FCM requires every `data` value to be a string; `action_id` is added to `data` so the app can
report opens and drop a duplicate display. A `200` returns the message `name`
(`projects/*/messages/*`), recorded as `sent`. Errors follow google.rpc.Status with an
`FcmError` detail: `UNREGISTERED` (404) and `INVALID_ARGUMENT` about the token are bounces
(the device token is dead), `QUOTA_EXCEEDED` (429) and `UNAVAILABLE`/`INTERNAL` (503/500) are
transient, the rest permanent.
"""

from __future__ import annotations

from typing import ClassVar

import httpx

from connectors.dispatch.channels import http
from connectors.dispatch.masking import mask_text
from connectors.dispatch.plugin import (
    AdapterContext,
    ChannelAdapter,
    ChannelPlugin,
    Commit,
    DeliveryResult,
    OutgoingMessage,
)
from connectors.errors import ChannelConfigError, PermanentDeliveryError
from jobs.settings import FcmSettings
from jobs.spec.records import DeliveryStatus
from jobs.spec.template import PushTemplate

BOUNCE_ERRORS = frozenset({"UNREGISTERED"})


class FcmAdapter(ChannelAdapter):
    """Sends FCM v1 messages to single device tokens."""

    def __init__(self, settings: FcmSettings) -> None:
        self.settings = settings
        self._http = http.client(settings.timeout_s)
        self._url = f"{settings.base_url.rstrip('/')}/v1/projects/{settings.project_id}/messages:send"

    def deliver(self, message: OutgoingMessage, commit: Commit) -> DeliveryResult:
        token = message.address("push_token")
        if not token:
            raise PermanentDeliveryError("no push token", code="no_address", bounced=True)
        content = message.content
        if content is None:
            raise PermanentDeliveryError("push needs a template with title and body")
        data = {k: str(v) for k, v in content.group("data").items()}
        data["action_id"] = message.action.action_id
        payload = {
            "message": {
                "token": token,
                "notification": {"title": content.get("title") or "", "body": content.get("body") or ""},
                "data": data,
            }
        }
        secret = self.settings.access_token.get_secret_value() if self.settings.access_token else ""
        request = self._http.build_request(
            "POST", self._url, json=payload, headers={"Authorization": f"Bearer {secret}"}
        )
        response = http.send(self._http, request, commit, "fcm")
        if response.status_code >= 300:
            status, error_code, text = _fcm_error(response)
            code = error_code or status
            bounced = error_code in BOUNCE_ERRORS or (status == "INVALID_ARGUMENT" and "token" in text.lower())
            http.raise_for_provider(response, "fcm", code=code, message=text, bounced=bounced)
        try:
            name = str(response.json().get("name") or "") or None
        except ValueError:
            name = None
        return DeliveryResult(status=DeliveryStatus.SENT, provider_id=name)

    def close(self) -> None:
        self._http.close()


def _fcm_error(response: httpx.Response) -> tuple[str | None, str | None, str]:
    try:
        error = response.json().get("error") or {}
    except (ValueError, AttributeError):
        return None, None, http.short_body(response)
    code = None
    for detail in error.get("details") or []:
        if isinstance(detail, dict) and detail.get("errorCode"):
            code = str(detail["errorCode"])
    return error.get("status"), code, mask_text(str(error.get("message") or ""))


class PushPlugin(ChannelPlugin):
    """Mobile push through FCM (`dispatch.push`)."""

    name: ClassVar[str] = "push"
    description: ClassVar[str] = "push through the FCM HTTP v1 API"
    template_model = PushTemplate
    address_trait: ClassVar[str | None] = "push_token"

    def check(self, context: AdapterContext) -> None:
        s = context.settings.dispatch.push
        if not s.project_id or s.access_token is None:
            raise ChannelConfigError("push: set dispatch.push.project_id and dispatch.push.access_token")

    def create_adapter(self, context: AdapterContext) -> ChannelAdapter:
        return FcmAdapter(context.settings.dispatch.push)
