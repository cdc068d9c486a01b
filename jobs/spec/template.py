"""Message templates (`templates/<id>.yaml`), one model per channel, discriminated on `channel`.

```yaml
id: cart_reminder
channel: email
subject: "{{ profile.first_name | default('there') }}, your cart is waiting"
text: "You left {{ event.cart_value }} worth of items."
```
Fields by channel: email `subject text html`, sms `body`, push `title body data`, in_app
`title body cta`, slack `text`, webhook `method url headers body`. Every text field is a
Jinja2 template rendered in a sandbox; `rendered_fields()` lists them for renderers and checks.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

TemplateId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")]


class TemplateBase(BaseModel):
    """Common fields of every template."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: TemplateId
    channel: str
    description: str | None = None
    version: int = Field(default=1, ge=1)

    def rendered_fields(self) -> dict[str, str]:
        """The Jinja2 sources of this template, by field name (absent optional fields left out)."""
        skip = {"id", "channel", "description", "version"}
        out: dict[str, str] = {}
        for name, value in self:
            if name in skip or value is None:
                continue
            _collect(name, value, out)
        return out


def _collect(prefix: str, value: Any, out: dict[str, str]) -> None:
    if isinstance(value, str):
        out[prefix] = value
    elif isinstance(value, BaseModel):
        for name, sub in value:
            if sub is not None:
                _collect(f"{prefix}.{name}", sub, out)
    elif isinstance(value, dict):
        for key, sub in value.items():
            _collect(f"{prefix}.{key}", sub, out)


class EmailTemplate(TemplateBase):
    """An email: `subject` and plain `text`, optional `html`."""

    channel: Literal["email"]
    subject: str = Field(min_length=1)
    text: str = Field(min_length=1)
    html: str | None = None


class SmsTemplate(TemplateBase):
    """A text message."""

    channel: Literal["sms"]
    body: str = Field(min_length=1)


class PushTemplate(TemplateBase):
    """A mobile push notification; `data` is the app's custom key/value payload."""

    channel: Literal["push"]
    title: str = Field(min_length=1)
    body: str = Field(min_length=1)
    data: dict[str, str] = Field(default_factory=dict)


class Cta(BaseModel):
    """An in-app call to action."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    label: str = Field(min_length=1)
    url: str = Field(min_length=1)


class InAppTemplate(TemplateBase):
    """A message for the in-app inbox."""

    channel: Literal["in_app"]
    title: str = Field(min_length=1)
    body: str = Field(min_length=1)
    cta: Cta | None = None


class SlackTemplate(TemplateBase):
    """A Slack message."""

    channel: Literal["slack"]
    text: str = Field(min_length=1)


class WebhookTemplate(TemplateBase):
    """An outgoing HTTP request; `url`, header values and `body` are templates."""

    channel: Literal["webhook"]
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    url: str = Field(min_length=1)
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | None = None


Template = Annotated[
    EmailTemplate | SmsTemplate | PushTemplate | InAppTemplate | SlackTemplate | WebhookTemplate,
    Field(discriminator="channel"),
]
"""Any message template, discriminated on `channel`."""

TEMPLATE_MODELS: dict[str, type[TemplateBase]] = {
    "email": EmailTemplate,
    "sms": SmsTemplate,
    "push": PushTemplate,
    "in_app": InAppTemplate,
    "slack": SlackTemplate,
    "webhook": WebhookTemplate,
}

_adapter: TypeAdapter[Any] = TypeAdapter(Template)


def parse_template(data: Any) -> TemplateBase:
    """Parse a template mapping; raises pydantic ValidationError."""
    return _adapter.validate_python(data)


def template_json_schema() -> dict[str, Any]:
    """The JSON Schema of a template file."""
    return _adapter.json_schema()
