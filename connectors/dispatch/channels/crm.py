"""CRM updates as a webhook preset: the profile and the node's fields, posted as JSON.

Actions on `actions.crm` (from the `crm_sync` node kind, see `crm_node.py`) carry `params`
`{object, fields}`; field values are templates. The request goes to `dispatch.crm.url` with the
configured auth (bearer, basic or HMAC) and `Idempotency-Key: <action_id>`. The default body is
`{"user_id", "action_id", "object", "fields", "profile"}`; `dispatch.crm.body` replaces it with a
template of your own (e.g. to match a CRM's upsert API).
"""

from __future__ import annotations

from typing import ClassVar

from connectors.dispatch.channels.webhook import HttpCall, HttpCallAdapter, _body_bytes, _render_tree
from connectors.dispatch.plugin import AdapterContext, ChannelAdapter, ChannelPlugin, OutgoingMessage
from connectors.dispatch.render import RenderContext, TemplateRenderer
from connectors.errors import ChannelConfigError
from jobs.settings import CrmSettings, WebhookAuth


class CrmAdapter(HttpCallAdapter):
    """Posts profile updates to the configured CRM endpoint."""

    provider: ClassVar[str] = "crm"

    def __init__(self, settings: CrmSettings, renderer: TemplateRenderer) -> None:
        super().__init__(settings.timeout_s)
        self.settings = settings
        self.renderer = renderer

    def prepare(self, message: OutgoingMessage) -> tuple[HttpCall, WebhookAuth, float | None]:
        action = message.action
        ctx = RenderContext.from_action(action).variables()
        name = f"{action.journey_id}/{action.node_id}"
        fields = _render_tree(dict(action.params.get("fields") or {}), self.renderer, ctx, name, "fields")
        headers = {"Accept": "application/json", **self.settings.headers}
        if self.settings.body is not None:
            extra = RenderContext.from_action(action, fields=fields, object=action.params.get("object", "contact"))
            body: object = self.renderer.render_string(self.settings.body, extra, template="crm", field="body")
        else:
            body = {
                "user_id": action.user_id,
                "action_id": action.action_id,
                "object": action.params.get("object", "contact"),
                "fields": fields,
                "profile": action.vars.get("profile") or {},
            }
        payload = _body_bytes(body, headers)
        headers["Idempotency-Key"] = action.action_id
        call = HttpCall(method=self.settings.method, url=self.settings.url or "", headers=headers, body=payload)
        return call, self.settings.auth, None


class CrmPlugin(ChannelPlugin):
    """CRM upserts through `dispatch.crm` (a webhook preset)."""

    name: ClassVar[str] = "crm"
    checks_consent: ClassVar[bool] = False
    description: ClassVar[str] = "CRM profile updates (webhook preset)"
    idempotent: ClassVar[bool] = True

    def check(self, context: AdapterContext) -> None:
        if not context.settings.dispatch.crm.url:
            raise ChannelConfigError("crm: set dispatch.crm.url")

    def create_adapter(self, context: AdapterContext) -> ChannelAdapter:
        return CrmAdapter(context.settings.dispatch.crm, context.renderer)
