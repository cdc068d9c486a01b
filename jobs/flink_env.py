"""The one place that builds a configured `StreamExecutionEnvironment` for every journeys job.

Configuration comes from `flink-conf/config.yaml`, then the process settings (web UI address and
port, parallelism, checkpoints, state backend, Python state cache), then the caller's overrides.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml

from jobs.errors import JourneysError
from jobs.settings import Settings

if TYPE_CHECKING:
    from pyflink.datastream import StreamExecutionEnvironment


class FlinkSetupError(JourneysError):
    """The Flink environment cannot be built (missing jars, bad configuration)."""


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested YAML keys to Flink's dotted keys: {'a': {'b': 1}} -> {'a.b': '1'}."""
    flat: dict[str, str] = {}
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, dotted + "."))
        elif isinstance(value, bool):
            flat[dotted] = "true" if value else "false"
        elif isinstance(value, list):
            flat[dotted] = ";".join(str(v) for v in value)
        else:
            flat[dotted] = str(value)
    return flat


def connector_jars(settings: Settings) -> list[Path]:
    """The connector jars fetched by `make setup` (the Flink Kafka connector)."""
    jars = sorted(settings.flink.jars_dir.glob("*.jar"))
    if not jars:
        raise FlinkSetupError(f"no connector jars in {settings.flink.jars_dir}; run `make setup` first")
    return jars


def flink_configuration(
    settings: Settings,
    *,
    state_backend: Literal["rocksdb", "hashmap"] | None = None,
    checkpointing: bool = True,
    overrides: dict[str, str] | None = None,
) -> dict[str, str]:
    """Every Flink option a local journeys job runs with, as dotted keys."""
    conf_file = settings.flink.conf_dir / "config.yaml"
    conf = flatten(yaml.safe_load(conf_file.read_text()) or {}) if conf_file.is_file() else {}
    f = settings.flink
    checkpoints = settings.home / "checkpoints"
    conf.update(
        {
            "rest.address": f.rest_address,
            "rest.bind-address": f.rest_address,
            "rest.port": str(f.rest_port),
            "parallelism.default": str(f.parallelism),
            "state.backend.type": state_backend or f.state_backend,
            "python.execution-mode": "thread",
            "python.executable": sys.executable,
            "python.client.executable": sys.executable,
            "python.state.cache-size": str(f.state_cache_size),
            "execution.checkpointing.dir": checkpoints.as_uri(),
            "execution.checkpointing.savepoint-dir": (settings.home / "savepoints").as_uri(),
            "pipeline.jars": ";".join(p.as_uri() for p in connector_jars(settings)),
        }
    )
    if checkpointing:
        conf["execution.checkpointing.interval"] = f"{f.checkpoint_interval_ms}ms"
    else:
        conf.pop("execution.checkpointing.interval", None)
    conf.update(overrides or {})
    return conf


def prepare_python_path() -> None:
    """Put this interpreter's bin first on PATH: thread mode loads PEMJA from the JVM's PATH."""
    bin_dir = str(Path(sys.executable).parent)
    path = os.environ.get("PATH", "")
    if path.split(os.pathsep)[0] != bin_dir:
        os.environ["PATH"] = bin_dir + os.pathsep + path


def create_env(
    settings: Settings,
    *,
    state_backend: Literal["rocksdb", "hashmap"] | None = None,
    checkpointing: bool = True,
    overrides: dict[str, str] | None = None,
) -> StreamExecutionEnvironment:
    """A `StreamExecutionEnvironment` (the local mini-cluster when run from Python) configured
    for journeys: thread mode, connector jars, web UI, checkpoints and state backend."""
    prepare_python_path()
    from pyflink.common import Configuration
    from pyflink.datastream import StreamExecutionEnvironment

    config = Configuration()
    for key, value in flink_configuration(
        settings, state_backend=state_backend, checkpointing=checkpointing, overrides=overrides
    ).items():
        config.set_string(key, value)
    env = StreamExecutionEnvironment.get_execution_environment(config)
    env.set_parallelism(settings.flink.parallelism)
    return env
