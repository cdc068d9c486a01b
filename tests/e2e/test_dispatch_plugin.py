"""A channel as a package of its own: the example postcard plugin is pip-installed (into a folder of its
own, not the shared venv), found through the `journeys.channels` entry point, and used to mail a card."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from dispatch_kit import DispatchEnv
from provider_servers import PostcardServer, wait_for

from jobs.settings import PROJECT_ROOT
from jobs.spec.records import DeliveryStatus

pytestmark = pytest.mark.e2e

PLUGIN = PROJECT_ROOT / "connectors" / "plugins" / "journeys-postcard"


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The plugin installed with pip into a folder of its own (put on PYTHONPATH to use it)."""
    work = tmp_path_factory.mktemp("postcard")
    source = work / "src"
    shutil.copytree(PLUGIN, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    site = work / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site), str(source)],
        check=True, timeout=180,
    )
    assert (site / "journeys_postcard").is_dir()
    return site


def test_postcard_plugin_is_installed_discovered_and_used(dispatch_env: DispatchEnv, plugin_site: Path,
                                                          tmp_path: Path) -> None:
    env = dispatch_env
    template = {"id": "thank_you_card", "channel": "postcard",
                "front": "<h1>Thank you, {{ profile.first_name }}!</h1>",
                "back": "<p>Your code: {{ profile.coupon | default('THANKS10') }}</p>"}
    (env.templates / "thank_you_card.yaml").write_text(json.dumps(template))
    with PostcardServer("test_postcard_key") as api:
        settings = {"base_url": api.base_url, "api_key": "test_postcard_key"}
        env.configure({"dispatch": {"plugins": {"postcard": settings}}})
        env.create_topics(["postcard"])
        profile = {"first_name": "Ada <3", "last_name": "Lovelace",
                   "address": {"line1": "12 St James's Square", "city": "London", "zip": "SW1Y 4JH", "country": "GB"}}
        card = env.action("postcard", 1, template="thank_you_card", profile=profile)
        env.produce([card, card])  # a repeat, as a replay would produce
        worker = env.worker_process(["postcard"], tmp_path / "worker.log",
                                    extra_env={"PYTHONPATH": str(plugin_site)})
        try:
            wait_for(lambda: len(api.accepted) == 1 and len(env.deliveries()) >= 2, 40, 0.5, "the postcard")
        finally:
            worker.send_signal(signal.SIGTERM)
            code = worker.wait(30)
        log = (tmp_path / "worker.log").read_text()
        assert code == 0, log[-3000:]
        assert "dispatching postcard" in log
        assert api.violations == [] and len(api.requests) == 1
        [request] = api.accepted
        assert request.headers["idempotency-key"] == card.action_id
        assert request.json["to"] == {"name": "Ada <3 Lovelace", "address_line1": "12 St James's Square",
                                      "address_city": "London", "address_zip": "SW1Y 4JH", "address_country": "GB"}
        assert request.json["front"] == "<h1>Thank you, Ada &lt;3!</h1>"  # HTML-escaped values
        assert request.json["back"] == "<p>Your code: THANKS10</p>"
    statuses = [d.status for d in env.deliveries()]
    assert statuses == [DeliveryStatus.SENT, DeliveryStatus.DUPLICATE]
    assert env.deliveries()[0].provider_id.startswith("psc_")


def test_plugin_node_kind_extends_the_journey_language(plugin_site: Path, tmp_path: Path) -> None:
    journey = tmp_path / "thanks.yaml"
    journey.write_text(
        "id: thanks\nname: Thank-you card\nentry: {event: order.completed}\nstart: card\nnodes:\n"
        "  card: {type: postcard, template: thank_you_card, next: done}\n  done: {type: exit}\n"
    )

    def validate(pythonpath: str | None) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("JOURNEYS_")}
        if pythonpath:
            env["PYTHONPATH"] = pythonpath
        return subprocess.run([sys.executable, "-m", "jobs.cli", "validate", str(journey)], cwd=PROJECT_ROOT,
                              env=env, capture_output=True, text=True, timeout=60)

    without = validate(None)
    assert without.returncode == 1 and "unknown node type 'postcard'" in without.stdout
    with_plugin = validate(str(plugin_site))
    assert with_plugin.returncode == 0, with_plugin.stdout + with_plugin.stderr
