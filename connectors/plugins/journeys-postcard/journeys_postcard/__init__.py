"""journeys-postcard: printed postcards as a journeys channel (plugin API version 1).

The dispatcher finds `PostcardPlugin` through the `journeys.channels` entry point. Each action on
`actions.postcard` is rendered with its `postcard` template (front and back are HTML, escaped
accordingly) and sent as `POST {base_url}/v1/postcards` with HTTP basic auth (the API key as user
name), the recipient's postal address from the profile trait `address`, and
`Idempotency-Key: <action_id>`: the API de-duplicates, so a send interrupted by a crash may be
repeated safely.
"""

from __future__ import annotations

import base64
from typing import Any, ClassVar, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from connectors.dispatch.plugin import (
    AdapterContext,
    ChannelAdapter,
    ChannelPlugin,
    Commit,
    DeliveryResult,
    OutgoingMessage,
)
from connectors.errors import ChannelConfigError, PermanentDeliveryError, TransientDeliveryError
from jobs.spec.records import DeliveryStatus
from jobs.spec.template import TemplateBase

__version__ = "0.1.0"


class PostcardTemplate(TemplateBase):
    """A postcard: HTML for the front and the back."""

    channel: Literal["postcard"]
    front: str = Field(min_length=1)
    back: str = Field(min_length=1)

    #: Fields rendered with HTML escaping (read by the journeys renderer).
    journeys_escapes: ClassVar[dict[str, str]] = {"front": "html", "back": "html"}


class PostcardSettings(BaseModel):
    """`dispatch.plugins.postcard`."""

    model_config = ConfigDict(extra="forbid")

    base_url: str = "https://api.lob.com"
    api_key: SecretStr | None = None
    size: Literal["4x6", "6x9", "6x11"] = "4x6"
    timeout_s: float = Field(default=15.0, gt=0)


_ADDRESS_FIELDS = {
    "name": "name",
    "line1": "address_line1",
    "line2": "address_line2",
    "city": "address_city",
    "state": "address_state",
    "zip": "address_zip",
    "country": "address_country",
}


def postal_address(profile: dict[str, Any]) -> dict[str, str]:
    """The API's `to` object from the profile trait `address`; raises PermanentDeliveryError."""
    address = profile.get("address")
    if not isinstance(address, dict) or not address.get("line1") or not address.get("city"):
        raise PermanentDeliveryError("no postal address in the profile", code="no_address", bounced=True)
    out = {api: str(address[ours]) for ours, api in _ADDRESS_FIELDS.items() if address.get(ours)}
    out.setdefault("name", " ".join(str(profile.get(k, "")) for k in ("first_name", "last_name")).strip() or "Customer")
    out.setdefault("address_country", "US")
    return out


class PostcardAdapter(ChannelAdapter):
    """Creates postcards through the API."""

    def __init__(self, settings: PostcardSettings) -> None:
        self.settings = settings
        key = settings.api_key.get_secret_value() if settings.api_key else ""
        self._auth = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
        self._http = httpx.Client(timeout=settings.timeout_s, follow_redirects=False)

    def deliver(self, message: OutgoingMessage, commit: Commit) -> DeliveryResult:
        content = message.content
        if content is None:
            raise PermanentDeliveryError("a postcard needs a template (front and back)")
        profile = message.action.vars.get("profile") or {}
        body = {
            "description": f"journeys {message.action.journey_id}/{message.action.node_id}",
            "to": postal_address(profile),
            "front": content.get("front"),
            "back": content.get("back"),
            "size": self.settings.size,
            "metadata": {"action_id": message.action.action_id[:500]},
        }
        request = self._http.build_request(
            "POST",
            f"{self.settings.base_url.rstrip('/')}/v1/postcards",
            json=body,
            headers={"Authorization": self._auth, "Idempotency-Key": message.idempotency_key},
        )
        commit()
        try:
            response = self._http.send(request)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise TransientDeliveryError(f"postcard: cannot connect ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            raise TransientDeliveryError(f"postcard: {type(exc).__name__}", maybe_sent=True) from None
        status = response.status_code
        if status == 429 or status >= 500:
            raise TransientDeliveryError(f"postcard: HTTP {status}", code=str(status),
                                         counts_for_circuit=status != 429)
        if status >= 300:
            try:
                detail = str(response.json().get("error", {}).get("message", ""))[:200]
            except ValueError:
                detail = ""
            raise PermanentDeliveryError(f"postcard: HTTP {status}: {detail}", code=str(status),
                                         bounced=status == 422 and "address" in detail)
        return DeliveryResult(status=DeliveryStatus.SENT, provider_id=str(response.json().get("id") or "") or None)

    def close(self) -> None:
        self._http.close()


class PostcardPlugin(ChannelPlugin):
    """The `postcard` channel."""

    api_version: ClassVar[int] = 1
    name: ClassVar[str] = "postcard"
    description: ClassVar[str] = "printed postcards through a postcard-printing API"
    template_model = PostcardTemplate
    settings_model = PostcardSettings
    # The API de-duplicates on Idempotency-Key.
    idempotent: ClassVar[bool] = True

    def check(self, context: AdapterContext) -> None:
        settings = context.plugin_settings
        if not isinstance(settings, PostcardSettings) or settings.api_key is None:
            raise ChannelConfigError("postcard: set dispatch.plugins.postcard.api_key")

    def create_adapter(self, context: AdapterContext) -> ChannelAdapter:
        assert isinstance(context.plugin_settings, PostcardSettings)
        return PostcardAdapter(context.plugin_settings)
