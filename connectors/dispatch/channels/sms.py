"""SMS through the Twilio Programmable Messaging REST API.

`POST {base_url}/2010-04-01/Accounts/{AccountSid}/Messages.json`, form-encoded `To`, `From` (or
`MessagingServiceSid`), `Body` and optionally `StatusCallback`, with HTTP basic auth (Account SID
and auth token). A `201` carries the message `sid` (`SM…`) and `status: queued`: the delivery is
recorded as `sent`; Twilio's later status callbacks (posted to `status_callback_url`, which gets
`?action_id=…`) can be turned into delivery records with `delivery_from_status_callback`.
Twilio error codes that mean the number cannot receive (21211 invalid, 21614 not mobile, 21612
unroutable, 21610 unsubscribed) are bounces.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import ClassVar
from urllib.parse import urlencode

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
from jobs.settings import TwilioSettings
from jobs.spec.records import DeliveryRecord, DeliveryStatus
from jobs.spec.template import SmsTemplate

BOUNCE_CODES = frozenset({"21211", "21612", "21614", "21610", "30003", "30005", "30006"})

#: Twilio message statuses (status callbacks) and what they mean for a delivery.
CALLBACK_STATUSES: dict[str, DeliveryStatus] = {
    "queued": DeliveryStatus.SENT,
    "sending": DeliveryStatus.SENT,
    "sent": DeliveryStatus.SENT,
    "delivered": DeliveryStatus.DELIVERED,
    "undelivered": DeliveryStatus.BOUNCED,
    "failed": DeliveryStatus.FAILED,
}


class TwilioAdapter(ChannelAdapter):
    """Creates Message resources."""

    def __init__(self, settings: TwilioSettings) -> None:
        self.settings = settings
        token = settings.auth_token.get_secret_value() if settings.auth_token else ""
        pair = base64.b64encode(f"{settings.account_sid or ''}:{token}".encode()).decode()
        self._http = http.client(settings.timeout_s, headers={"Authorization": f"Basic {pair}"})
        self._url = f"{settings.base_url.rstrip('/')}/2010-04-01/Accounts/{settings.account_sid}/Messages.json"

    def deliver(self, message: OutgoingMessage, commit: Commit) -> DeliveryResult:
        to = message.address("phone")
        if not to:
            raise PermanentDeliveryError("no phone number", code="no_address", bounced=True)
        body = message.content.get("body") if message.content else None
        if not body:
            raise PermanentDeliveryError("sms needs a template with a body")
        form = {"To": to, "Body": body}
        if self.settings.messaging_service_sid:
            form["MessagingServiceSid"] = self.settings.messaging_service_sid
        else:
            form["From"] = self.settings.from_number or ""
        if self.settings.status_callback_url:
            sep = "&" if "?" in self.settings.status_callback_url else "?"
            form["StatusCallback"] = (
                f"{self.settings.status_callback_url}{sep}{urlencode({'action_id': message.action.action_id})}"
            )
        request = self._http.build_request("POST", self._url, data=form)
        response = http.send(self._http, request, commit, "twilio")
        if response.status_code >= 300:
            code, text = _twilio_error(response)
            http.raise_for_provider(response, "twilio", code=code, message=text, bounced=code in BOUNCE_CODES)
        try:
            sid = str(response.json().get("sid") or "") or None
        except ValueError:
            sid = None
        return DeliveryResult(status=DeliveryStatus.SENT, provider_id=sid)

    def close(self) -> None:
        self._http.close()


def _twilio_error(response: httpx.Response) -> tuple[str | None, str]:
    try:
        data = response.json()
    except ValueError:
        return None, http.short_body(response)
    code = data.get("code")
    return (str(code) if code is not None else None), mask_text(str(data.get("message") or ""))


def delivery_from_status_callback(form: dict[str, str], action_id: str, attempt: int = 1) -> DeliveryRecord | None:
    """A delivery record for a Twilio status callback (`MessageSid`, `MessageStatus`, `ErrorCode`)."""
    status = CALLBACK_STATUSES.get(form.get("MessageStatus", ""))
    if status is None:
        return None
    error = form.get("ErrorCode")
    return DeliveryRecord(
        action_id=action_id,
        channel="sms",
        status=status,
        provider_id=form.get("MessageSid"),
        attempt=attempt,
        error=f"twilio error {error}" if error else None,
        ts=datetime.now(UTC),
    )


class SmsPlugin(ChannelPlugin):
    """SMS through Twilio (`dispatch.sms`)."""

    name: ClassVar[str] = "sms"
    description: ClassVar[str] = "SMS through the Twilio REST API"
    template_model = SmsTemplate
    address_trait: ClassVar[str | None] = "phone"

    def check(self, context: AdapterContext) -> None:
        s = context.settings.dispatch.sms
        if not s.account_sid or s.auth_token is None:
            raise ChannelConfigError("sms: set dispatch.sms.account_sid and dispatch.sms.auth_token")
        if not (s.from_number or s.messaging_service_sid):
            raise ChannelConfigError("sms: set dispatch.sms.from_number or dispatch.sms.messaging_service_sid")

    def create_adapter(self, context: AdapterContext) -> ChannelAdapter:
        return TwilioAdapter(context.settings.dispatch.sms)
