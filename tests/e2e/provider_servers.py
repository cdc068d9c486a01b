"""Local HTTP servers shaped like the providers the dispatchers talk to, for tests.

Each server checks every request the way its provider documents it (path, method, auth, content
type, required fields, field types) and answers like the provider: success bodies, error codes
and error shapes. A request that breaks the provider's rules is answered with the provider's
error *and* recorded in `violations`, so a test can assert there were none. `fail_next(...)`
scripts answers (e.g. 503 twice, a 429 with Retry-After) before normal service resumes.

- `TwilioServer`: `POST /2010-04-01/Accounts/{AccountSid}/Messages.json`, form-encoded, HTTP
  basic auth with the Account SID and auth token; 201 with a Message resource (`sid` SM…).
- `FcmServer`: `POST /v1/projects/{project_id}/messages:send`, `Authorization: Bearer`, JSON
  `{"message": {...}}` with exactly one target and string-only `data`; 200 `{"name": …}`; an
  unknown device token is `404 NOT_FOUND` with FcmError `UNREGISTERED`.
- `SlackServer`: `POST /services/T…/B…/<secret>` with a JSON body holding `text`; `200 ok`.
- `WebhookServer`: any path; checks the `X-Journeys-Signature: t=…,v1=…` HMAC-SHA256 over
  `"<t>." + body` with the shared secret (and the timestamp's age), or a bearer token; de-duplicates on
  `Idempotency-Key`.
- `PostcardServer`: a postcard-printing API (Lob-like): `POST /v1/postcards`, basic auth with the
  API key as user name, JSON with a postal `to` address, `front` and `back`; de-duplicates on
  `Idempotency-Key`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Received:
    """One request as the server saw it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    form: dict[str, str] = field(default_factory=dict)
    json: Any = None


@dataclass
class Answer:
    """A scripted answer."""

    status: int
    body: bytes | str | dict[str, Any] = b""
    headers: dict[str, str] = field(default_factory=dict)


class ProviderServer:
    """Base: a threaded HTTP server on 127.0.0.1 with a random port, recording requests."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.accepted: list[Received] = []
        self.violations: list[str] = []
        self._script: list[Answer] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                req = Received(
                    method=self.command,
                    path=self.path,
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                    at=time.time(),
                )
                with server._lock:
                    server.requests.append(req)
                    scripted = server._script.pop(0) if server._script else None
                answer = scripted or server.handle(req)
                payload = answer.body
                headers = dict(answer.headers)
                if isinstance(payload, dict):
                    payload = json.dumps(payload).encode()
                    headers.setdefault("Content-Type", "application/json")
                elif isinstance(payload, str):
                    payload = payload.encode()
                    headers.setdefault("Content-Type", "text/plain")
                self.send_response(answer.status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_POST = do_GET = do_PUT = do_PATCH = do_DELETE = _handle

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> ProviderServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def fail_next(self, *answers: Answer) -> None:
        """Answer the next requests with these, in order."""
        with self._lock:
            self._script.extend(answers)

    def violation(self, text: str) -> None:
        """Record a request that breaks the provider's rules."""
        with self._lock:
            self.violations.append(text)

    def handle(self, req: Received) -> Answer:
        """The provider's normal answer."""
        raise NotImplementedError


def _basic(req: Received) -> tuple[str, str] | None:
    header = req.headers.get("authorization", "")
    if not header.startswith("Basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except ValueError:
        return None
    return user, password


E164 = re.compile(r"^\+[1-9]\d{6,14}$")


class TwilioServer(ProviderServer):
    """The Twilio Programmable Messaging API (Messages resource)."""

    def __init__(self, account_sid: str, auth_token: str, *, invalid_numbers: set[str] | None = None) -> None:
        super().__init__()
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.invalid_numbers = invalid_numbers or set()

    def _error(self, status: int, code: int, message: str) -> Answer:
        return Answer(status, {"code": code, "message": message,
                               "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status})

    def handle(self, req: Received) -> Answer:
        if req.method != "POST" or req.path != f"/2010-04-01/Accounts/{self.account_sid}/Messages.json":
            self.violation(f"wrong endpoint {req.method} {req.path}")
            return self._error(404, 20404, "The requested resource was not found")
        if _basic(req) != (self.account_sid, self.auth_token):
            self.violation("bad basic auth")
            return self._error(401, 20003, "Authentication Error - invalid username")
        if not req.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            self.violation(f"content type {req.headers.get('content-type')}")
            return self._error(400, 21601, "Content-Type must be application/x-www-form-urlencoded")
        form = {k: v[0] for k, v in parse_qs(req.body.decode(), keep_blank_values=True).items()}
        req.form = form
        to = form.get("To", "")
        if not form.get("Body") or len(form["Body"]) > 1600:
            self.violation("Body missing or too long")
            return self._error(400, 21602, "Message body is required.")
        if not (form.get("From") or form.get("MessagingServiceSid")):
            self.violation("neither From nor MessagingServiceSid")
            return self._error(400, 21603, "A 'From' or 'MessagingServiceSid' parameter is required")
        if not E164.match(to) or to in self.invalid_numbers:
            return self._error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if form.get("StatusCallback") and not form["StatusCallback"].startswith(("http://", "https://")):
            self.violation("StatusCallback is not a URL")
        sid = "SM" + uuid.uuid4().hex
        with self._lock:
            self.accepted.append(req)
        return Answer(201, {"sid": sid, "account_sid": self.account_sid, "to": to, "from": form.get("From"),
                            "body": form["Body"], "status": "queued", "num_segments": "1", "api_version": "2010-04-01",
                            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json"})


class FcmServer(ProviderServer):
    """FCM HTTP v1 `messages:send`."""

    def __init__(self, project_id: str, access_token: str, *, unregistered: set[str] | None = None) -> None:
        super().__init__()
        self.project_id = project_id
        self.access_token = access_token
        self.unregistered = unregistered or set()

    def _error(self, code: int, status: str, message: str, fcm_code: str | None = None) -> Answer:
        error: dict[str, Any] = {"code": code, "message": message, "status": status}
        if fcm_code:
            error["details"] = [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": fcm_code}]
        return Answer(code, {"error": error})

    def handle(self, req: Received) -> Answer:
        if req.method != "POST" or req.path != f"/v1/projects/{self.project_id}/messages:send":
            self.violation(f"wrong endpoint {req.method} {req.path}")
            return self._error(404, "NOT_FOUND", "Requested entity was not found.")
        if req.headers.get("authorization") != f"Bearer {self.access_token}":
            self.violation("bad bearer token")
            return self._error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
        if not req.headers.get("content-type", "").startswith("application/json"):
            self.violation("not JSON")
            return self._error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
        try:
            body = json.loads(req.body)
        except ValueError:
            self.violation("body is not JSON")
            return self._error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
        req.json = body
        message = body.get("message") if isinstance(body, dict) else None
        if not isinstance(message, dict) or set(body) - {"message", "validate_only"}:
            self.violation("no message object")
            return self._error(400, "INVALID_ARGUMENT", "Invalid JSON payload received. Unknown name.")
        targets = [k for k in ("token", "topic", "condition") if k in message]
        if len(targets) != 1:
            self.violation(f"targets {targets}")
            return self._error(400, "INVALID_ARGUMENT", "Exactly one of token, topic or condition is required.")
        data = message.get("data", {})
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            self.violation("data values must be strings")
            return self._error(400, "INVALID_ARGUMENT", "Invalid value at 'message.data'")
        notification = message.get("notification", {})
        if not all(isinstance(notification.get(k, ""), str) for k in ("title", "body")):
            self.violation("notification fields must be strings")
        if message.get("token") in self.unregistered:
            return self._error(404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED")
        with self._lock:
            self.accepted.append(req)
        return Answer(200, {"name": f"projects/{self.project_id}/messages/0:{uuid.uuid4().int % 10**16}"})


class SlackServer(ProviderServer):
    """A Slack incoming webhook."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path

    @property
    def url(self) -> str:
        """The webhook URL (a secret)."""
        return self.base_url + self.path

    def handle(self, req: Received) -> Answer:
        if req.method != "POST" or req.path != self.path:
            return Answer(404, "no_service", {"Content-Type": "text/html"})
        if not req.headers.get("content-type", "").startswith("application/json"):
            self.violation("not JSON")
            return Answer(400, "invalid_payload", {"Content-Type": "text/html"})
        try:
            body = json.loads(req.body)
        except ValueError:
            self.violation("body is not JSON")
            return Answer(400, "invalid_payload", {"Content-Type": "text/html"})
        req.json = body
        if not isinstance(body, dict) or not (body.get("text") or body.get("blocks")):
            self.violation("no text")
            return Answer(400, "no_text", {"Content-Type": "text/html"})
        with self._lock:
            self.accepted.append(req)
        return Answer(200, "ok", {"Content-Type": "text/html"})


class WebhookServer(ProviderServer):
    """A receiver of signed webhooks that de-duplicates on `Idempotency-Key`."""

    def __init__(
        self, *, secret: str | None = None, bearer: str | None = None, tolerance_s: int = 300,
        always: Answer | None = None,
    ) -> None:
        super().__init__()
        self.secret = secret
        self.bearer = bearer
        self.tolerance_s = tolerance_s
        self.keys: dict[str, int] = {}
        #: Answer every (valid) request with this instead of accepting it (a broken endpoint).
        self.always = always

    def _verify(self, req: Received) -> str | None:
        if self.bearer is not None and req.headers.get("authorization") != f"Bearer {self.bearer}":
            return "bad bearer token"
        if self.secret is None:
            return None
        header = req.headers.get("x-journeys-signature", "")
        parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
        if "t" not in parts or "v1" not in parts:
            return "no signature"
        if abs(time.time() - int(parts["t"])) > self.tolerance_s:
            return "signature too old"
        expected = hmac.new(self.secret.encode(), parts["t"].encode() + b"." + req.body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, parts["v1"]):
            return "signature mismatch"
        return None

    def handle(self, req: Received) -> Answer:
        problem = self._verify(req)
        if problem:
            self.violation(problem)
            return Answer(401, {"error": problem})
        key = req.headers.get("idempotency-key")
        if not key:
            self.violation("no Idempotency-Key")
        if self.always is not None:
            return self.always
        if req.headers.get("content-type", "").startswith("application/json"):
            try:
                req.json = json.loads(req.body)
            except ValueError:
                self.violation("body is not JSON")
        with self._lock:
            if key:
                self.keys[key] = self.keys.get(key, 0) + 1
                if self.keys[key] > 1:
                    return Answer(200, {"ok": True, "duplicate": True})
            self.accepted.append(req)
        return Answer(200, {"ok": True}, {"X-Request-Id": uuid.uuid4().hex})


class PostcardServer(ProviderServer):
    """A postcard-printing API in the shape of Lob's `POST /v1/postcards`."""

    REQUIRED_ADDRESS = ("name", "address_line1", "address_city", "address_zip", "address_country")

    def __init__(self, api_key: str) -> None:
        super().__init__()
        self.api_key = api_key
        self.keys: dict[str, str] = {}

    def handle(self, req: Received) -> Answer:
        if req.method != "POST" or req.path != "/v1/postcards":
            self.violation(f"wrong endpoint {req.method} {req.path}")
            return Answer(404, {"error": {"message": "not found", "status_code": 404}})
        if _basic(req) != (self.api_key, ""):
            self.violation("bad basic auth")
            return Answer(401, {"error": {"message": "Your API key is not valid.", "status_code": 401}})
        try:
            body = json.loads(req.body)
        except ValueError:
            self.violation("body is not JSON")
            return Answer(422, {"error": {"message": "invalid JSON", "status_code": 422}})
        req.json = body
        to = body.get("to") if isinstance(body, dict) else None
        missing = [k for k in self.REQUIRED_ADDRESS if not (isinstance(to, dict) and to.get(k))]
        if missing or not body.get("front") or not body.get("back"):
            self.violation(f"missing {missing or 'front/back'}")
            return Answer(422, {"error": {"message": f"missing {missing}", "status_code": 422}})
        key = req.headers.get("idempotency-key")
        with self._lock:
            if key and key in self.keys:
                return Answer(200, {"id": self.keys[key], "object": "postcard"})
            card = "psc_" + uuid.uuid4().hex[:24]
            if key:
                self.keys[key] = card
            self.accepted.append(req)
        return Answer(200, {"id": card, "object": "postcard", "expected_delivery_date": "2026-12-01"})


def wait_for(predicate: Any, timeout_s: float = 30.0, interval_s: float = 0.1, what: str = "condition",
             detail: Any = None) -> None:
    """Poll `predicate` until true; AssertionError naming `what` (and `detail()`, what was seen) on timeout."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval_s)
    seen = f"; {detail()}" if detail is not None else ""
    raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}{seen}")


def split_url(url: str) -> tuple[str, str]:
    """(base, path) of a URL."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}", parts.path
