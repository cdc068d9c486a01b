"""The built-in channels: email, sms, push, slack, webhook, crm, in_app, flag."""

from __future__ import annotations

from connectors.dispatch.plugin import ChannelPlugin


def builtin_plugins() -> list[ChannelPlugin]:
    """One instance of each built-in channel plugin."""
    from connectors.dispatch.channels.crm import CrmPlugin
    from connectors.dispatch.channels.email import EmailPlugin
    from connectors.dispatch.channels.flag import FlagPlugin
    from connectors.dispatch.channels.in_app import InAppPlugin
    from connectors.dispatch.channels.push import PushPlugin
    from connectors.dispatch.channels.slack import SlackPlugin
    from connectors.dispatch.channels.sms import SmsPlugin
    from connectors.dispatch.channels.webhook import WebhookPlugin

    return [
        EmailPlugin(),
        SmsPlugin(),
        PushPlugin(),
        SlackPlugin(),
        WebhookPlugin(),
        CrmPlugin(),
        InAppPlugin(),
        FlagPlugin(),
    ]
