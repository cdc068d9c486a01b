"""Email over SMTP: multipart text and HTML, `List-Unsubscribe`, a Message-ID seeded by the action.

The message is multipart/alternative (text, then HTML when the template has it), quoted-printable:
- `Message-ID` is `<sha256(action_id)[:32]@message_id_domain>`, so a resend of the same action
  carries the same id (mail stores and clients fold duplicates by it);
- marketing messages get `List-Unsubscribe` (a signed one-click URL and/or a mailto) with
  `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058), and an unsubscribe link at the
  end of the text and HTML bodies unless the template placed `{{ unsubscribe_url }}` itself;
- `X-Journeys-Action-Id` lets bounces be traced back to the action.

The SMTP exchange is driven step by step (MAIL, RCPT, DATA, the body, then the final `.`) so that
`commit()` is written between the body and the final `.`: until that dot the server discards the
message if the connection drops, after it the message is the server's.
"""

from __future__ import annotations

import binascii
import contextlib
import hashlib
import re
import smtplib
import socket
from email.header import Header
from email.utils import formataddr, formatdate
from typing import Any, ClassVar

from connectors.dispatch.masking import mask_email, mask_text
from connectors.dispatch.plugin import (
    AdapterContext,
    ChannelAdapter,
    ChannelPlugin,
    Commit,
    DeliveryResult,
    OutgoingMessage,
)
from connectors.dispatch.unsubscribe import UnsubscribeScope, make_token
from connectors.errors import PermanentDeliveryError, TransientDeliveryError
from jobs.settings import Settings
from jobs.spec.nodes import Priority
from jobs.spec.records import ActionRecord, DeliveryStatus
from jobs.spec.template import EmailTemplate

# What an SMTP envelope takes: ASCII, one @, no spaces, brackets or line breaks.
_ADDRESS = re.compile(r"[!#-'*+\-/-9=?A-Z^-~.]+@[A-Za-z0-9](?:[A-Za-z0-9\-.]*[A-Za-z0-9])?")
_EOL = re.compile(rb"(?:\r\n|\n|\r(?!\n))")
_LEADING_DOT = re.compile(rb"(?m)^\.")


def message_id(action_id: str, domain: str) -> str:
    """The Message-ID of an action's email."""
    return f"<{hashlib.sha256(action_id.encode()).hexdigest()[:32]}@{domain}>"


def unsubscribe_url(settings: Settings, action: ActionRecord) -> str | None:
    """The signed one-click unsubscribe URL for an action, if configured (marketing only)."""
    d = settings.dispatch
    if action.priority is Priority.TRANSACTIONAL or d.unsubscribe_secret is None or not d.email.unsubscribe_url:
        return None
    scope = UnsubscribeScope(user_id=action.user_id, channel=action.channel, category=action.category)
    return d.email.unsubscribe_url.replace("{token}", make_token(d.unsubscribe_secret.get_secret_value(), scope))


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _header(text: str) -> str:
    """A header value on one logical line; non-ASCII text as RFC 2047 encoded words."""
    text = _one_line(text)
    if text.isascii():
        return text
    return Header(text, "utf-8").encode(linesep="\r\n")


def _qp(text: str) -> bytes:
    body = binascii.b2a_qp(text.replace("\r\n", "\n").replace("\r", "\n").encode("utf-8"), istext=True)
    return body.replace(b"\n", b"\r\n")


def _part(subtype: str, text: str) -> bytes:
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n'
    ).encode() + _qp(text)


def check_address(address: str) -> str:
    """The address, if it can be used in an SMTP envelope; raises PermanentDeliveryError (bounced)."""
    address = address.strip()
    if not _ADDRESS.fullmatch(address):
        raise PermanentDeliveryError(f"not a usable email address: {mask_email(address)}", code="bad_address",
                                     bounced=True)
    return address


def build_email(message: OutgoingMessage, settings: Settings, recipient: str, *, date: str | None = None) -> bytes:
    """The MIME message (CRLF line ends) of a rendered email action.

    Built by hand rather than with `email.message.EmailMessage`, which costs about a millisecond
    per message, more than the rest of a send; `tests/unit` parses the result back with the
    standard library to check it.
    """
    content = message.content
    if content is None:
        raise PermanentDeliveryError("email needs a template (subject and text)")
    action = message.action
    d = settings.dispatch
    text = content.get("text") or ""
    html = content.get("html")
    sender = settings.smtp.sender
    headers = [
        ("From", formataddr((d.email.sender_name, sender)) if d.email.sender_name else sender),
        ("To", recipient),
        ("Subject", _header(content.get("subject") or "")),
        ("Date", date or formatdate(usegmt=True)),
        ("Message-ID", message_id(action.action_id, d.email.message_id_domain)),
        ("X-Journeys-Action-Id", _header(action.action_id)),
    ]
    url = unsubscribe_url(settings, action)
    targets = []
    if url:
        targets.append(f"<{url}>")
    if d.email.unsubscribe_mailto and action.priority is not Priority.TRANSACTIONAL:
        targets.append(f"<mailto:{d.email.unsubscribe_mailto}?subject=unsubscribe>")
    if targets:
        headers.append(("List-Unsubscribe", ", ".join(targets)))
        if url:
            headers.append(("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
    if url and url not in text:
        text = text.rstrip("\n") + f"\n\n--\nUnsubscribe: {url}\n"
    if url and html is not None and url not in html:
        link = f'<p style="font-size:small;color:#666"><a href="{url}">Unsubscribe</a></p>'
        html = html.replace("</body>", link + "</body>") if "</body>" in html else html + link
    headers.append(("MIME-Version", "1.0"))
    head = "".join(f"{name}: {value}\r\n" for name, value in headers).encode()
    if html is None:
        return head + _part("plain", text)
    # QP never writes "=_", so the boundary cannot occur in the parts.
    boundary = f"=_journeys_{hashlib.sha256(action.action_id.encode()).hexdigest()[:24]}"
    return (
        head
        + f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n'.encode()
        + f"--{boundary}\r\n".encode()
        + _part("plain", text)
        + f"\r\n--{boundary}\r\n".encode()
        + _part("html", html)
        + f"\r\n--{boundary}--\r\n".encode()
    )


def _dot_stuffed(data: bytes) -> bytes:
    body = _LEADING_DOT.sub(b"..", _EOL.sub(b"\r\n", data))
    return body if body.endswith(b"\r\n") else body + b"\r\n"


class SmtpAdapter(ChannelAdapter):
    """One SMTP connection, opened lazily and kept for the next message."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        s = self.settings.smtp
        try:
            conn = smtplib.SMTP(s.host, s.port, timeout=self.settings.dispatch.email.timeout_s)
            # The final "." goes out in a write of its own, right after the commit mark; without
            # TCP_NODELAY, Nagle's algorithm holds it back until the body is acknowledged.
            if conn.sock is not None:
                conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn.ehlo_or_helo_if_needed()
            if s.starttls:
                conn.starttls()
                conn.ehlo()
            if s.username:
                conn.login(s.username, s.password.get_secret_value() if s.password else "")
        except smtplib.SMTPAuthenticationError as exc:
            raise PermanentDeliveryError(f"smtp: login refused ({exc.smtp_code})", code=str(exc.smtp_code)) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise TransientDeliveryError(f"smtp: cannot connect ({type(exc).__name__})") from None
        return conn

    def _drop(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.close()
            finally:
                self._smtp = None

    def deliver(self, message: OutgoingMessage, commit: Commit) -> DeliveryResult:
        recipient = message.address("email")
        if not recipient:
            raise PermanentDeliveryError("no email address", code="no_address", bounced=True)
        recipient = check_address(recipient)
        data = build_email(message, self.settings, recipient)
        for fresh in (False, True):
            if self._smtp is None:
                self._smtp = self._connect()
            try:
                return self._transaction(self._smtp, recipient, data, commit)
            except smtplib.SMTPServerDisconnected:
                # A kept connection the server closed while idle: reconnect once (nothing was sent).
                self._drop()
                if fresh:
                    raise TransientDeliveryError("smtp: server closed the connection") from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _transaction(self, conn: smtplib.SMTP, recipient: str, data: bytes, commit: Commit) -> DeliveryResult:
        sender = self.settings.smtp.sender
        committed = False
        try:
            code, reply = conn.mail(sender)
            if code != 250:
                self._refused("MAIL FROM", code, reply, conn)
            code, reply = conn.rcpt(recipient)
            if code not in (250, 251):
                self._refused("RCPT TO", code, reply, conn, recipient=recipient)
            code, reply = conn.docmd("DATA")
            if code != 354:
                self._refused("DATA", code, reply, conn)
            conn.send(_dot_stuffed(data))
            committed = True
            if conn.sock is None:
                raise smtplib.SMTPServerDisconnected("connection closed")
            commit(then_send=(conn.sock, b".\r\n"))
            code, reply = conn.getreply()
        except smtplib.SMTPServerDisconnected:
            self._drop()
            if committed:
                raise TransientDeliveryError("smtp: connection lost after the message", maybe_sent=True) from None
            raise
        except (TimeoutError, OSError) as exc:
            self._drop()
            raise TransientDeliveryError(
                f"smtp: {type(exc).__name__} during the transaction", maybe_sent=committed
            ) from None
        if code != 250:
            self._refused("end of DATA", code, reply, conn)
        return DeliveryResult(status=DeliveryStatus.DELIVERED, provider_id=_reply_text(reply)[:120] or None)

    def _refused(
        self, step: str, code: int, reply: bytes, conn: smtplib.SMTP, *, recipient: str | None = None
    ) -> None:
        try:
            conn.rset()
        except (OSError, smtplib.SMTPException):
            self._drop()
        text = mask_text(_reply_text(reply))
        who = f" for {mask_email(recipient)}" if recipient else ""
        message = f"smtp: {step} refused{who}: {code} {text}"
        if 400 <= code < 500 or code == -1:
            raise TransientDeliveryError(message, code=str(code))
        raise PermanentDeliveryError(message, code=str(code), bounced=recipient is not None)

    def close(self) -> None:
        if self._smtp is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                self._smtp.quit()
            self._drop()


def _reply_text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)


class EmailPlugin(ChannelPlugin):
    """Email through the SMTP relay of the `smtp` settings."""

    name: ClassVar[str] = "email"
    description: ClassVar[str] = "email over SMTP (multipart text/HTML, List-Unsubscribe)"
    template_model = EmailTemplate
    address_trait: ClassVar[str | None] = "email"
    idempotent: ClassVar[bool] = False

    def template_variables(self, action: ActionRecord, settings: Settings) -> dict[str, Any]:
        """`unsubscribe_url`, for templates that place the link themselves."""
        url = unsubscribe_url(settings, action)
        return {"unsubscribe_url": url} if url else {}

    def create_adapter(self, context: AdapterContext) -> ChannelAdapter:
        return SmtpAdapter(context.settings)
