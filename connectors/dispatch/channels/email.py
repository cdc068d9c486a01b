"""Email over SMTP: multipart text and HTML, `List-Unsubscribe`, a Message-ID seeded by the action.

The message is built with the standard library (`email.message.EmailMessage`):
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

import contextlib
import hashlib
import re
import smtplib
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
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

# Long headers such as List-Unsubscribe must not be folded into RFC 2047 encoded words (receivers
# would no longer see the URL); RFC 5322 allows lines of up to 998 characters.
_POLICY = SMTP_POLICY.clone(max_line_length=998)
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


def build_email(message: OutgoingMessage, settings: Settings, recipient: str) -> EmailMessage:
    """The MIME message for a rendered email action."""
    content = message.content
    if content is None:
        raise PermanentDeliveryError("email needs a template (subject and text)")
    action = message.action
    d = settings.dispatch
    subject = _one_line(content.get("subject") or "")
    text = content.get("text") or ""
    html = content.get("html")
    msg = EmailMessage(policy=_POLICY)
    sender = settings.smtp.sender
    msg["From"] = formataddr((d.email.sender_name, sender)) if d.email.sender_name else sender
    msg["To"] = recipient
    msg["Subject"] = subject
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = message_id(action.action_id, d.email.message_id_domain)
    msg["X-Journeys-Action-Id"] = action.action_id
    url = unsubscribe_url(settings, action)
    targets = []
    if url:
        targets.append(f"<{url}>")
    if d.email.unsubscribe_mailto and action.priority is not Priority.TRANSACTIONAL:
        targets.append(f"<mailto:{d.email.unsubscribe_mailto}?subject=unsubscribe>")
    if targets:
        msg["List-Unsubscribe"] = ", ".join(targets)
        if url:
            msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    if url and url not in text:
        text = text.rstrip("\n") + f"\n\n--\nUnsubscribe: {url}\n"
    if url and html is not None and url not in html:
        link = f'<p style="font-size:small;color:#666"><a href="{url}">Unsubscribe</a></p>'
        html = html.replace("</body>", link + "</body>") if "</body>" in html else html + link
    msg.set_content(text)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    return msg


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
        data = build_email(message, self.settings, recipient).as_bytes()
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
            commit()
            committed = True
            conn.send(b".\r\n")
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
