"""Process settings: one class, read from a YAML file and `JOURNEYS_…` environment variables.

Precedence, highest first: values passed in code, environment variables
(`JOURNEYS_KAFKA__BOOTSTRAP_SERVERS=…`, nested keys joined by `__`), the settings file
(`--settings FILE` or `JOURNEYS_SETTINGS`), then the defaults below. Secrets are `SecretStr`
so they never show up in logs or reprs.
"""

from __future__ import annotations

import contextvars
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from jobs.errors import SettingsError
from operators.core.guardrails import Guardrails

# The repository root when journeys runs from a checkout (editable install): flink-conf/ and the
# fetched jars live there.
PROJECT_ROOT = Path(__file__).resolve().parent.parent

_settings_file: contextvars.ContextVar[Path | None] = contextvars.ContextVar("settings_file", default=None)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class KafkaSettings(_Section):
    """Where Kafka is, and how the local broker is laid out."""

    bootstrap_servers: str = "127.0.0.1:9092"
    # The local broker's controller listener (KRaft); only used by `journeys services`.
    controller_port: int = 9093
    partitions: int = Field(default=2, ge=1, description="partitions of the topics the project creates")
    heap: str = "1g"
    topic_prefix: str = ""

    @property
    def host(self) -> str:
        """Host of the first bootstrap server."""
        return self.bootstrap_servers.split(",")[0].rsplit(":", 1)[0]

    @property
    def port(self) -> int:
        """Port of the first bootstrap server."""
        return int(self.bootstrap_servers.split(",")[0].rsplit(":", 1)[1])


class RedisSettings(_Section):
    """Where Redis is."""

    host: str = "127.0.0.1"
    port: int = 6379
    db: int = 0
    password: SecretStr | None = None

    @property
    def url(self) -> str:
        """A redis:// URL without the password (safe to print)."""
        return f"redis://{self.host}:{self.port}/{self.db}"


class SmtpSettings(_Section):
    """The SMTP relay email is sent through (the local server by default)."""

    host: str = "127.0.0.1"
    port: int = 1025
    username: str | None = None
    password: SecretStr | None = None
    starttls: bool = False
    sender: str = "journeys@localhost"


class FlinkSettings(_Section):
    """How Flink jobs run: the local mini-cluster's web UI, checkpoints, state, parallelism."""

    rest_address: str = "127.0.0.1"
    rest_port: int = 8081
    parallelism: int = Field(default=1, ge=1)
    checkpoint_interval_ms: int = Field(default=10_000, ge=100)
    state_backend: Literal["rocksdb", "hashmap"] = "rocksdb"
    # Python-side state cache (entries per operator): must hold the working set of users.
    state_cache_size: int = Field(default=100_000, ge=1)
    # Event time: how far events may arrive out of order before they hold the watermark back,
    # how late (behind the watermark) an event may still be processed, after how long without
    # events the wall clock moves time alone, how often the clock ticks, and how far ahead of
    # the wall clock an event may be stamped (Kafka refuses records far in the future).
    out_of_orderness_ms: int = Field(default=500, ge=0)
    allowed_lateness_ms: int = Field(default=60_000, ge=0)
    idle_timeout_ms: int = Field(default=1_000, ge=100)
    clock_interval_ms: int = Field(default=250, ge=10)
    max_future_ms: int = Field(default=15 * 60_000, ge=0)
    job_name: str = "journeys"
    exactly_once_sinks: bool = False
    jars_dir: Path = PROJECT_ROOT / "flink-conf" / "jars" / "flink"
    conf_dir: Path = PROJECT_ROOT / "flink-conf"

    @property
    def web_url(self) -> str:
        """The Flink web UI of local jobs."""
        return f"http://{self.rest_address}:{self.rest_port}"


class RateLimit(_Section):
    """A global send rate for one channel, shared by every worker (token bucket in Redis)."""

    per_second: float = Field(gt=0, description="sustained sends per second")
    # 1 spaces sends evenly; larger values let that many go out at once after a quiet spell.
    burst: int = Field(default=1, ge=1, description="sends allowed back to back after a quiet spell")


class RetrySettings(_Section):
    """Retries of transient failures: exponential backoff with jitter."""

    max_attempts: int = Field(default=5, ge=1, description="attempts in all, the first included")
    base_delay_s: float = Field(default=0.5, gt=0)
    max_delay_s: float = Field(default=30.0, gt=0)
    # A provider asking for a longer pause than this (Retry-After) is waited for this long at most.
    max_retry_after_s: float = Field(default=300.0, gt=0)


class CircuitSettings(_Section):
    """Per-provider circuit breaker: open after consecutive transient failures, probe after a pause."""

    failure_threshold: int = Field(default=5, ge=1)
    reset_timeout_s: float = Field(default=30.0, gt=0)


class WebhookAuth(_Section):
    """How an outgoing HTTP request authenticates: none, a bearer token, basic auth or an HMAC signature."""

    kind: Literal["none", "bearer", "basic", "hmac"] = "none"
    token: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None
    secret: SecretStr | None = None
    signature_header: str = "X-Journeys-Signature"


class WebhookTarget(_Section):
    """Credentials and defaults for webhook URLs starting with `url_prefix` (longest prefix wins)."""

    url_prefix: str = Field(min_length=1)
    auth: WebhookAuth = WebhookAuth()
    headers: dict[str, str] = Field(default_factory=dict)
    timeout_s: float | None = Field(default=None, gt=0)


class WebhookChannelSettings(_Section):
    """Generic outgoing webhooks."""

    timeout_s: float = Field(default=10.0, gt=0)
    auth: WebhookAuth = WebhookAuth()
    targets: list[WebhookTarget] = Field(default_factory=list)
    # False: only URLs matching a target may be called (guards against journeys calling internal hosts).
    allow_unlisted: bool = True
    max_body_bytes: int = Field(default=1_000_000, ge=1)


class EmailChannelSettings(_Section):
    """Email through the SMTP relay of `smtp`."""

    sender_name: str | None = None
    # `{token}` is replaced by a signed token naming user, channel and category (see unsubscribe_secret).
    unsubscribe_url: str | None = "http://127.0.0.1:8000/v1/unsubscribe/{token}"
    unsubscribe_mailto: str | None = None
    message_id_domain: str = "journeys.local"
    timeout_s: float = Field(default=10.0, gt=0)


class TwilioSettings(_Section):
    """SMS through the Twilio Programmable Messaging REST API."""

    base_url: str = "https://api.twilio.com"
    account_sid: str | None = None
    auth_token: SecretStr | None = None
    from_number: str | None = None
    messaging_service_sid: str | None = None
    status_callback_url: str | None = None
    timeout_s: float = Field(default=10.0, gt=0)


class FcmSettings(_Section):
    """Push through the Firebase Cloud Messaging HTTP v1 API (an OAuth 2.0 access token)."""

    base_url: str = "https://fcm.googleapis.com"
    project_id: str | None = None
    access_token: SecretStr | None = None
    timeout_s: float = Field(default=10.0, gt=0)


class SlackSettings(_Section):
    """Slack through an incoming webhook (its URL is a secret)."""

    webhook_url: SecretStr | None = None
    timeout_s: float = Field(default=10.0, gt=0)


class CrmSettings(_Section):
    """A CRM reached as a webhook preset: profile and fields posted as JSON to `url`."""

    url: str | None = None
    method: Literal["POST", "PUT", "PATCH"] = "POST"
    auth: WebhookAuth = WebhookAuth()
    headers: dict[str, str] = Field(default_factory=dict)
    # A Jinja2 template for the body; None posts {user_id, action_id, object, fields, profile} as JSON.
    body: str | None = None
    timeout_s: float = Field(default=10.0, gt=0)


class InAppSettings(_Section):
    """The per-user in-app inbox in Redis."""

    max_messages: int = Field(default=100, ge=1)
    ttl_s: int = Field(default=30 * 86400, ge=1)


class FlagSettings(_Section):
    """Per-user feature flag values in Redis."""

    ttl_s: int | None = Field(default=None, ge=1, description="expiry of a user's flags; None keeps them")


class DispatchSettings(_Section):
    """Dispatcher workers: consumption, exactly-once bookkeeping, guardrails, providers."""

    group_prefix: str = "journeys-dispatch"
    concurrency: int = Field(default=4, ge=1, description="sender threads per channel in one worker")
    batch_size: int = Field(default=500, ge=1)
    poll_timeout_ms: int = Field(default=500, ge=1)
    session_timeout_ms: int = Field(default=10_000, ge=1000)
    # Longer than the replay horizon (Kafka retention, the job's checkpoint replays), so a replayed
    # action is still recognised.
    dedupe_ttl_s: int = Field(default=8 * 86400, ge=60)
    # How long a claimed send may take before another worker treats its owner as dead.
    claim_lease_s: float = Field(default=30.0, gt=0)
    templates_dir: Path = PROJECT_ROOT / "templates"
    template_reload_s: float = Field(default=5.0, ge=0)
    feedback: bool = Field(default=True, description="publish message.* events to `events`")
    rate_limits: dict[str, RateLimit] = Field(default_factory=dict)
    retry: RetrySettings = RetrySettings()
    circuit: CircuitSettings = CircuitSettings()
    unsubscribe_secret: SecretStr | None = None
    email: EmailChannelSettings = EmailChannelSettings()
    sms: TwilioSettings = TwilioSettings()
    push: FcmSettings = FcmSettings()
    slack: SlackSettings = SlackSettings()
    webhook: WebhookChannelSettings = WebhookChannelSettings()
    crm: CrmSettings = CrmSettings()
    in_app: InAppSettings = InAppSettings()
    flag: FlagSettings = FlagSettings()
    # Settings of channel plugins, by channel name; each plugin validates its own with its model.
    plugins: dict[str, dict[str, Any]] = Field(default_factory=dict)


class Settings(BaseSettings):
    """Everything a journeys process needs that is not part of a journey."""

    model_config = SettingsConfigDict(
        env_prefix="JOURNEYS_",
        env_nested_delimiter="__",
        extra="forbid",
        nested_model_default_partial_update=True,
    )

    home: Path = Field(
        default_factory=lambda: Path.cwd() / ".journeys",
        description="data, logs and pid files of local services",
    )
    kafka: KafkaSettings = KafkaSettings()
    redis: RedisSettings = RedisSettings()
    smtp: SmtpSettings = SmtpSettings()
    flink: FlinkSettings = FlinkSettings()
    guardrails: Guardrails = Guardrails()
    dispatch: DispatchSettings = DispatchSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _YamlFileSource(settings_cls))

    @classmethod
    def load(cls, path: Path | str | None = None, **overrides: Any) -> Settings:
        """Read settings from `path` (or `$JOURNEYS_SETTINGS`), the environment and `overrides`."""
        if path is None and os.environ.get("JOURNEYS_SETTINGS"):
            path = os.environ["JOURNEYS_SETTINGS"]
        token = _settings_file.set(Path(path) if path else None)
        try:
            return cls(**overrides)
        except ValidationError as exc:
            where = f"settings file {path}" if path else "settings"
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
            )
            raise SettingsError(f"{where}: {problems}") from None
        finally:
            _settings_file.reset(token)

    @property
    def logs_dir(self) -> Path:
        """Where local services write their logs."""
        return self.home / "logs"

    @property
    def run_dir(self) -> Path:
        """Where local services keep pid files."""
        return self.home / "run"


class _YamlFileSource(PydanticBaseSettingsSource):
    """The settings file, below environment variables in precedence."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        raise NotImplementedError  # __call__ is overridden

    def __call__(self) -> dict[str, Any]:
        path = _settings_file.get()
        if path is None:
            return {}
        if not path.is_file():
            raise SettingsError(f"settings file {path} does not exist")
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise SettingsError(f"settings file {path} is not valid YAML: {exc}") from None
        if not isinstance(data, dict):
            kind = type(data).__name__
            raise SettingsError(f"settings file {path} must hold a mapping of keys, not {kind}")
        return data
