"""Sending one HTTP request for an adapter, and turning provider answers into delivery errors.

Shared by the SMS, push, Slack, webhook and CRM adapters. `send()` calls `commit()` after the
request is built and right before it is written, and sorts transport failures by whether the
request may have reached the provider (`maybe_sent`). `raise_for_provider()` maps status codes:
429 and 5xx (and 408) are transient, honouring `Retry-After`; other 4xx are permanent. Error
messages never contain the URL (Slack's is a secret) and mask personal data.
"""

from __future__ import annotations

import httpx

from connectors.dispatch.masking import mask_text
from connectors.dispatch.plugin import Commit
from connectors.dispatch.retry import parse_retry_after
from connectors.errors import PermanentDeliveryError, TransientDeliveryError

USER_AGENT = "journeys-dispatcher/1"


class HttpSender:
    """Keep-alive connections for one sender thread, straight on httpx's transport.

    No `httpx.Client` on purpose: a dispatcher must not carry cookies from one user's request to
    the next, nor follow redirects (a provider that moved is a configuration error), and the
    client's layers for those cost about a third of a request's CPU.
    """

    def __init__(self, timeout_s: float, headers: dict[str, str] | None = None) -> None:
        self.transport = httpx.HTTPTransport(retries=0)
        self.timeout = httpx.Timeout(timeout_s)
        self.headers = {"User-Agent": USER_AGENT, **(headers or {})}

    def build_request(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
        data: dict[str, str] | None = None,
        json: object = None,
        timeout: float | None = None,
    ) -> httpx.Request:
        """A request with the default headers and this sender's timeouts."""
        limits = httpx.Timeout(timeout) if timeout else self.timeout
        return httpx.Request(
            method, url, headers={**self.headers, **(headers or {})}, content=content, data=data, json=json,
            extensions={"timeout": limits.as_dict()},
        )

    def send(self, request: httpx.Request) -> httpx.Response:
        """Send and read the whole response."""
        response = self.transport.handle_request(request)
        try:
            response.read()
        finally:
            response.close()
        return response

    def close(self) -> None:
        """Close the connections."""
        self.transport.close()


def client(timeout_s: float, headers: dict[str, str] | None = None) -> HttpSender:
    """The HTTP sender of one adapter (one per sender thread)."""
    return HttpSender(timeout_s, headers)


def send(http: HttpSender, request: httpx.Request, commit: Commit, provider: str) -> httpx.Response:
    """Commit, then send `request`; transport failures become TransientDeliveryError."""
    commit()
    try:
        return http.send(request)
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
        raise TransientDeliveryError(f"{provider}: cannot connect ({type(exc).__name__})") from None
    except (httpx.WriteError, httpx.WriteTimeout) as exc:
        raise TransientDeliveryError(
            f"{provider}: request interrupted while being written ({type(exc).__name__})", maybe_sent=True
        ) from None
    except (httpx.ReadTimeout, httpx.ReadError, httpx.RemoteProtocolError) as exc:
        raise TransientDeliveryError(
            f"{provider}: no answer after the request was sent ({type(exc).__name__})", maybe_sent=True
        ) from None
    except httpx.TransportError as exc:
        raise TransientDeliveryError(f"{provider}: transport error ({type(exc).__name__})") from None


def short_body(response: httpx.Response, limit: int = 300) -> str:
    """The start of a response body, masked, for error messages."""
    try:
        text = response.text
    except (UnicodeDecodeError, httpx.ResponseNotRead):
        return ""
    return mask_text(" ".join(text.split()))[:limit]


def raise_for_provider(
    response: httpx.Response,
    provider: str,
    *,
    code: str | None = None,
    message: str | None = None,
    bounced: bool = False,
) -> None:
    """Raise the delivery error a non-2xx answer means (nothing for 2xx)."""
    status = response.status_code
    if 200 <= status < 300:
        return
    detail = message if message is not None else short_body(response)
    text = f"{provider}: HTTP {status}" + (f" ({code})" if code else "") + (f": {detail}" if detail else "")
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    if status == 429:
        raise TransientDeliveryError(text, code=code or "429", retry_after=retry_after, counts_for_circuit=False)
    if status == 408 or status >= 500:
        raise TransientDeliveryError(text, code=code or str(status), retry_after=retry_after)
    raise PermanentDeliveryError(text, code=code or str(status), bounced=bounced)
