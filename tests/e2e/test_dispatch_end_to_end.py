"""End to end: events into Kafka -> the journeys job -> actions -> dispatchers -> the SMTP server holds the
personalised email, the webhook server got its signed request, the in-app inbox has its message, and
`message.delivered` came back into the stream: the journey, waiting for it, goes on and sets a flag."""

from __future__ import annotations

import email
import json
import signal
import uuid
from datetime import UTC, datetime
from email import policy
from pathlib import Path

import pytest
from dispatch_kit import DispatchEnv
from job_support import iso, running_job
from provider_servers import WebhookServer, wait_for

from connectors.dispatch.channels.flag import read_flags
from connectors.dispatch.channels.in_app import read_inbox
from jobs.settings import Settings

pytestmark = pytest.mark.e2e

JOURNEY = """\
id: welcome-e2e
name: Welcome, end to end
entry: {{event: signed_up, reentry: {{policy: never}}}}
start: hello
nodes:
  hello: {{type: message, channel: email, template: welcome_email, next: crm}}
  crm:
    type: webhook
    url: "{hook}/signups/{{{{ user_id }}}}"
    body: {{user: "{{{{ user_id }}}}", plan: "{{{{ profile.plan }}}}"}}
    next: inbox
  inbox: {{type: message, channel: in_app, template: welcome_inbox, next: delivered}}
  delivered:
    type: wait_for
    event: message.delivered
    match: {{node: hello}}
    timeout: 5m
    on_event: flag
    on_timeout: done
  flag: {{type: feature_flag, flag: welcomed, value: true, next: done}}
  done: {{type: exit}}
"""

TEMPLATES = {
    "welcome_email": {"id": "welcome_email", "channel": "email",
                      "subject": "Welcome, {{ profile.first_name | default('friend') }}!",
                      "text": "Your {{ profile.plan }} plan is ready.",
                      "html": "<p>Your <b>{{ profile.plan }}</b> plan is ready, {{ profile.first_name }}.</p>"},
    "welcome_inbox": {"id": "welcome_inbox", "channel": "in_app", "title": "Hello {{ profile.first_name }}",
                      "body": "Start with the tour", "cta": {"label": "Tour", "url": "app://tour"}},
}


def test_events_to_job_to_dispatchers_and_back(dispatch_env: DispatchEnv, settings: Settings, tmp_path: Path) -> None:
    env = dispatch_env
    prefix = f"t{uuid.uuid4().hex[:8]}."
    with WebhookServer(secret="e2e-hmac-secret") as hooks:
        journeys = tmp_path / "journeys"
        journeys.mkdir()
        (journeys / "welcome.yaml").write_text(JOURNEY.format(hook=hooks.base_url))
        for name, data in TEMPLATES.items():
            (env.templates / f"{name}.yaml").write_text(json.dumps(data))
        env.configure({
            "kafka": {"topic_prefix": prefix},
            "dispatch": {"webhook": {"targets": [{"url_prefix": hooks.base_url,
                                                  "auth": {"kind": "hmac", "secret": "e2e-hmac-secret"}}]}},
        })
        user = env.user(1)
        with running_job(settings, tmp_path, prefix, [journeys], env.templates) as (job, topics):
            job.start()
            dispatcher = env.worker_process(["email", "webhook", "in_app", "flag"], tmp_path / "dispatch.log")
            try:
                topics.send_events([{
                    "event_id": f"e-{user}", "type": "signed_up", "user_id": user, "ts": iso(datetime.now(UTC)),
                    "traits": {"email": f"{user}@{env.domain}", "first_name": "Ada", "plan": "pro"},
                }])
                client = env.redis()
                wait_for(lambda: read_flags(client, user).get("welcomed") is True, 90, 0.5,
                         "the flag set after message.delivered came back")
            finally:
                dispatcher.send_signal(signal.SIGTERM)
                code = dispatcher.wait(30)
            assert code == 0, (tmp_path / "dispatch.log").read_text()[-3000:]

            # The SMTP server holds the personalised email.
            [mail] = env.mail()
            msg = email.message_from_bytes(mail.read_bytes(), policy=policy.default)
            assert msg["Subject"] == "Welcome, Ada!"
            assert "Your pro plan is ready." in msg.get_body(("plain",)).get_content()
            assert "<b>pro</b>" in msg.get_body(("html",)).get_content()
            # The webhook server got its signed request (it verified the HMAC itself).
            assert hooks.violations == []
            [hook] = hooks.accepted
            assert hook.path == f"/signups/{user}" and hook.json == {"user": user, "plan": "pro"}
            # The inbox has its message.
            [item] = read_inbox(client, user)
            assert item.title == "Hello Ada" and item.journey_id == "welcome-e2e"
            # message.delivered went back into `events`, naming the action, journey and node.
            delivered = topics.read_until(
                topics.consumer("events"), lambda rows: any(r["type"] == "message.delivered" for r in rows), 10)
            hello = [r for r in delivered if r["type"] == "message.delivered" and r["props"]["node_id"] == "hello"]
            assert hello and hello[0]["props"]["journey_id"] == "welcome-e2e"
            assert hello[0]["props"]["action_id"].startswith(f"welcome-e2e:1:{user}:hello:")
            client.delete(f"journeys:inbox:{user}", f"journeys:inbox:{user}:messages", f"journeys:flags:{user}")
