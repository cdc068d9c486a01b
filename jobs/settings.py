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
    allowed_lateness_ms: int = Field(default=60_000, ge=0)
    jars_dir: Path = PROJECT_ROOT / "flink-conf" / "jars" / "flink"
    conf_dir: Path = PROJECT_ROOT / "flink-conf"

    @property
    def web_url(self) -> str:
        """The Flink web UI of local jobs."""
        return f"http://{self.rest_address}:{self.rest_port}"


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
