"""Generic outgoing webhooks: method, URL, headers and body from a template or the node's fields.

Each request carries `Idempotency-Key: <action_id>` (receivers de-duplicate on it, which makes
webhooks safe to repeat after a crash) and authenticates as the settings say for the URL: the
`dispatch.webhook.targets` entry with the longest matching `url_prefix`, else
`dispatch.webhook.auth`. Auth kinds: `bearer` (`Authorization: Bearer …`), `basic`, or `hmac`: a
signature header `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + body>` (the scheme Stripe
uses), which receivers check with the shared secret and reject when `t` is too old.

With `allow_unlisted: false`, only URLs under a configured target may be called: a journey
author cannot point a webhook at an internal address.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict

from connectors.dispatch.channels import http
from connectors.dispatch.plugin import (
    AdapterContext,
    ChannelAdapter,
    ChannelPlugin,
    Commit,
    DeliveryResult,
    OutgoingMessage,
)
from connectors.dispatch.render import RenderContext, TemplateRenderer
from connectors.errors import PermanentDeliveryError, RenderError
from jobs.settings import WebhookAuth, WebhookChannelSettings, WebhookTarget
from jobs.spec.records import DeliveryStatus
from jobs.spec.template import WebhookTemplate


class HttpCall(BaseModel):
    """A fully rendered outgoing request."""

    model_config = ConfigDict(frozen=True)

    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None = None


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The HMAC signature header value for `body` sent at `timestamp` (unix seconds)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def _check_header(name: str, value: str) -> None:
    if "\r" in value or "\n" in value or "\r" in name or "\n" in name:
        raise PermanentDeliveryError(f"webhook header {name!r} contains a line break")


def authenticate(call: HttpCall, auth: WebhookAuth, now: float | None = None) -> HttpCall:
    """`call` with the authentication headers of `auth`."""
    headers = dict(call.headers)
    if auth.kind == "bearer" and auth.token is not None:
        headers["Authorization"] = f"Bearer {auth.token.get_secret_value()}"
    elif auth.kind == "basic":
        password = auth.password.get_secret_value() if auth.password else ""
        pair = base64.b64encode(f"{auth.username or ''}:{password}".encode()).decode()
        headers["Authorization"] = f"Basic {pair}"
    elif auth.kind == "hmac" and auth.secret is not None:
        headers[auth.signature_header] = signature(
            auth.secret.get_secret_value(), int(now if now is not None else time.time()), call.body or b""
        )
    return call.model_copy(update={"headers": headers})


def match_target(url: str, settings: WebhookChannelSettings) -> WebhookTarget | None:
    """The configured target with the longest `url_prefix` of `url`."""
    best: WebhookTarget | None = None
    for target in settings.targets:
        if url.startswith(target.url_prefix) and (best is None or len(target.url_prefix) > len(best.url_prefix)):
            best = target
    return best


def _body_bytes(body: Any, headers: dict[str, str]) -> bytes | None:
    if body is None:
        return None
    if isinstance(body, dict | list):
        headers.setdefault("Content-Type", "application/json")
        return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    text = str(body)
    if not any(k.lower() == "content-type" for k in headers):
        try:
            json.loads(text)
            headers["Content-Type"] = "application/json"
        except ValueError:
            headers["Content-Type"] = "text/plain; charset=utf-8"
    return text.encode()


def _render_tree(value: Any, renderer: TemplateRenderer, ctx: Mapping[str, Any], name: str, path: str) -> Any:
    if isinstance(value, str):
        return renderer.render_string(value, ctx, template=name, field=path)
    if isinstance(value, dict):
        return {k: _render_tree(v, renderer, ctx, name, f"{path}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_render_tree(v, renderer, ctx, name, f"{path}[{i}]") for i, v in enumerate(value)]
    return value


def call_from_message(message: OutgoingMessage, renderer: TemplateRenderer) -> HttpCall:
    """The request of a webhook action: from its rendered template, or its inline params rendered now."""
    action = message.action
    if message.content is not None:
        fields = message.content
        headers = fields.group("headers")
        method = (fields.get("method") or "POST").upper()
        url = fields.get("url") or ""
        body: Any = fields.get("body")
    else:
        params = action.params
        ctx = RenderContext.from_action(action).variables()
        name = f"{action.journey_id}/{action.node_id}"
        method = str(params.get("method") or "POST").upper()
        url = renderer.render_string(str(params.get("url") or ""), ctx, template=name, field="url")
        headers = {
            str(k): renderer.render_string(str(v), ctx, template=name, field=f"headers.{k}")
            for k, v in (params.get("headers") or {}).items()
        }
        body = _render_tree(params.get("body"), renderer, ctx, name, "body")
    if not url.startswith(("http://", "https://")):
        raise PermanentDeliveryError("webhook url must start with http:// or https://")
    for k, v in headers.items():
        _check_header(k, v)
    payload = None if method in ("GET", "DELETE") and not body else _body_bytes(body, headers)
    headers["Idempotency-Key"] = action.action_id
    return HttpCall(method=method, url=url, headers=headers, body=payload)


class HttpCallAdapter(ChannelAdapter):
    """Sends `HttpCall`s with one keep-alive client; subclasses say how a message becomes a call."""

    provider: ClassVar[str] = "webhook"

    def __init__(self, timeout_s: float, max_body_bytes: int = 1_000_000) -> None:
        self._http = http.client(timeout_s)
        self.max_body_bytes = max_body_bytes

    def prepare(self, message: OutgoingMessage) -> tuple[HttpCall, WebhookAuth, float | None]:
        """The call for `message`, its auth and its timeout (None: the client's)."""
        raise NotImplementedError

    def deliver(self, message: OutgoingMessage, commit: Commit) -> DeliveryResult:
        call, auth, timeout = self.prepare(message)
        if call.body is not None and len(call.body) > self.max_body_bytes:
            raise PermanentDeliveryError(f"{self.provider}: body of {len(call.body)} bytes is over the limit")
        call = authenticate(call, auth)
        request = self._http.build_request(
            call.method,
            call.url,
            headers=call.headers,
            content=call.body,
            timeout=timeout,
        )
        response = http.send(self._http, request, commit, self.provider)
        http.raise_for_provider(response, self.provider)
        provider_id = response.headers.get("X-Request-Id") or response.headers.get("Request-Id")
        return DeliveryResult(
            status=DeliveryStatus.DELIVERED, provider_id=provider_id, detail=f"HTTP {response.status_code}"
        )

    def close(self) -> None:
        self._http.close()


class WebhookAdapter(HttpCallAdapter):
    """Webhook actions: templated or inline requests, auth by URL."""

    provider: ClassVar[str] = "webhook"

    def __init__(self, settings: WebhookChannelSettings, renderer: TemplateRenderer) -> None:
        super().__init__(settings.timeout_s, settings.max_body_bytes)
        self.settings = settings
        self.renderer = renderer

    def circuit_key(self, message: OutgoingMessage) -> str:
        """The host the webhook goes to: one failing endpoint must not stop the others."""
        if message.content is not None:
            url = message.content.get("url") or ""
        else:
            raw = str(message.action.params.get("url") or "")
            host = urlsplit(raw).netloc
            if "{" not in host:  # templates usually fill in the path only
                return host
            try:
                url = self.renderer.render_string(raw, RenderContext.from_action(message.action),
                                                  template="webhook", field="url")
            except RenderError:
                return ""
        return urlsplit(url).netloc

    def prepare(self, message: OutgoingMessage) -> tuple[HttpCall, WebhookAuth, float | None]:
        call = call_from_message(message, self.renderer)
        target = match_target(call.url, self.settings)
        if target is None and not self.settings.allow_unlisted:
            raise PermanentDeliveryError("webhook url is not under any configured target (allow_unlisted is off)")
        if target is not None and target.headers:
            call = call.model_copy(update={"headers": {**call.headers, **target.headers}})
        auth = target.auth if target is not None and target.auth.kind != "none" else self.settings.auth
        return call, auth, target.timeout_s if target is not None else None


class WebhookPlugin(ChannelPlugin):
    """Generic outgoing webhooks (`dispatch.webhook`)."""

    name: ClassVar[str] = "webhook"
    checks_consent: ClassVar[bool] = False
    description: ClassVar[str] = "generic HTTP webhooks (bearer, basic or HMAC-signed)"
    template_model = WebhookTemplate
    idempotent: ClassVar[bool] = True

    def create_adapter(self, context: AdapterContext) -> ChannelAdapter:
        return WebhookAdapter(context.settings.dispatch.webhook, context.renderer)
