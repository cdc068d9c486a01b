"""Running dispatchers for one or more channels in one process (`journeys dispatch`).

`Dispatcher` builds what the channels share (templates, renderer, Redis, one Kafka producer),
one `ChannelWorker` thread per channel, and stops them all on `stop()` (SIGTERM, SIGINT):
sends in progress finish and are recorded, then every consumer leaves its group.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from collections.abc import Iterable
from types import FrameType

from pydantic import BaseModel, ConfigDict

from connectors.dispatch.consent import ConsentStore
from connectors.dispatch.consent_sync import ConsentSync
from connectors.dispatch.dedupe import DedupeStore
from connectors.dispatch.keys import redis_client
from connectors.dispatch.plugin import AdapterContext, ChannelPlugin, load_channel_plugins
from connectors.dispatch.processor import ChannelRuntime
from connectors.dispatch.publisher import Publisher, topic_name
from connectors.dispatch.ratelimit import RateLimiter
from connectors.dispatch.render import TemplateRenderer
from connectors.dispatch.templates import TemplateStore
from connectors.dispatch.worker import ChannelWorker
from connectors.errors import ChannelConfigError
from connectors.kafka_admin import ensure_topics
from connectors.topics import DELIVERIES, EVENTS, actions_topic, dlq_topic
from jobs.settings import Settings

log = logging.getLogger(__name__)

ALL = "all"


class ChannelChoice(BaseModel):
    """The channels to run, and the ones `all` left out (with why)."""

    model_config = ConfigDict(frozen=True)

    channels: list[str]
    skipped: dict[str, str]


def worker_id() -> str:
    """This process, as `host:pid`."""
    return f"{socket.gethostname()}:{os.getpid()}"


def choose_channels(
    requested: Iterable[str], plugins: dict[str, ChannelPlugin], settings: Settings, renderer: TemplateRenderer
) -> ChannelChoice:
    """Resolve `all` and check each channel's settings.

    A channel named explicitly must be usable (ChannelConfigError otherwise); `all` takes every
    known channel whose provider is configured and reports the others as skipped.
    """
    names = [n for raw in requested for n in raw.replace(",", " ").split()]
    wanted_all = ALL in names or not names
    chosen = list(plugins) if wanted_all else list(dict.fromkeys(names))
    channels: list[str] = []
    skipped: dict[str, str] = {}
    for name in chosen:
        plugin = plugins.get(name)
        if plugin is None:
            raise ChannelConfigError(f"unknown channel {name!r}; known: {', '.join(sorted(plugins))}")
        context = AdapterContext(channel=name, settings=settings, renderer=renderer,
                                 plugin_settings=plugin.plugin_settings(settings))
        try:
            plugin.check(context)
        except ChannelConfigError as exc:
            if not wanted_all or name in names:
                raise
            skipped[name] = str(exc)
            continue
        channels.append(name)
    return ChannelChoice(channels=channels, skipped=skipped)


class Dispatcher:
    """The dispatchers of one process."""

    def __init__(
        self,
        settings: Settings,
        channels: Iterable[str],
        *,
        group_id: str | None = None,
        concurrency: int | None = None,
        plugins: dict[str, ChannelPlugin] | None = None,
        sync_consent: bool = False,
    ) -> None:
        self.settings = settings
        self.stop_event = threading.Event()
        self.worker_id = worker_id()
        self.plugins = plugins if plugins is not None else load_channel_plugins()
        self.renderer = TemplateRenderer()
        self.choice = choose_channels(channels, self.plugins, settings, self.renderer)
        models = {n: p.template_model for n, p in self.plugins.items() if p.template_model is not None}
        d = settings.dispatch
        self.templates = TemplateStore(d.templates_dir, models=models, reload_every_s=d.template_reload_s)
        self.redis = redis_client(settings)
        self.publisher = Publisher(settings, client_id=f"journeys-dispatch-{self.worker_id}")
        self.workers: list[ChannelWorker] = []
        for name in self.choice.channels:
            limit = d.rate_limits.get(name)
            runtime = ChannelRuntime(
                channel=name,
                plugin=self.plugins[name],
                settings=settings,
                templates=self.templates,
                renderer=self.renderer,
                consent=ConsentStore(self.redis, settings.guardrails.consent),
                dedupe=DedupeStore(self.redis, d.dedupe_ttl_s),
                publisher=self.publisher,
                limiter=(
                    RateLimiter(self.redis, name, limit, settings.kafka.topic_prefix) if limit is not None else None
                ),
                stop=self.stop_event,
                worker_id=self.worker_id,
            )
            self.workers.append(ChannelWorker(runtime, group_id=group_id, concurrency=concurrency))
        self._threads: list[threading.Thread] = []
        consent = ConsentStore(self.redis, settings.guardrails.consent)
        self.consent_sync = ConsentSync(settings, consent, self.stop_event) if sync_consent else None

    def ensure_topics(self) -> None:
        """Create the topics the channels read and write, if missing."""
        names = [DELIVERIES, EVENTS]
        for channel in self.choice.channels:
            names += [actions_topic(channel), dlq_topic(channel)]
        ensure_topics(self.settings, [topic_name(self.settings, n) for n in names])

    def start(self) -> None:
        """Start one thread per channel (and the consent sync, if asked for)."""
        self.ensure_topics()
        for worker in self.workers:
            thread = threading.Thread(target=self._run, args=(worker,), name=f"dispatch-{worker.rt.channel}")
            thread.start()
            self._threads.append(thread)
        if self.consent_sync is not None:
            thread = threading.Thread(target=self.consent_sync.run, name="consent-sync")
            thread.start()
            self._threads.append(thread)

    def _run(self, worker: ChannelWorker) -> None:
        try:
            worker.run()
        except Exception:
            log.exception("%s: the dispatcher stopped on an error", worker.rt.channel)
            self.stop_event.set()
            raise

    def stop(self) -> None:
        """Ask every channel to finish what it is sending and stop."""
        self.stop_event.set()

    def wait(self) -> None:
        """Block until every channel stopped (signals are handled meanwhile), then close."""
        try:
            while any(t.is_alive() for t in self._threads):
                for t in self._threads:
                    t.join(timeout=0.5)
        finally:
            self.publisher.close()
            self.redis.close()

    def install_signal_handlers(self) -> None:
        """SIGTERM and SIGINT stop the dispatcher gracefully."""

        def handler(signum: int, frame: FrameType | None) -> None:
            log.info("signal %s: finishing the sends in progress, then stopping", signal.Signals(signum).name)
            self.stop()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    def stats(self) -> dict[str, dict[str, int]]:
        """Counters per channel."""
        return {w.rt.channel: w.rt.stats.snapshot() for w in self.workers}
