"""Redis from Debian's `redis-server`, on loopback, with AOF persistence under `<home>/redis`."""

from __future__ import annotations

import shutil

import redis as redis_client

from jobs.errors import ServiceError
from jobs.services.base import Service


class RedisService(Service):
    """A redis-server process the project starts and stops itself."""

    name = "redis"
    start_timeout_s = 30.0

    @property
    def address(self) -> str:
        return f"{self.settings.redis.host}:{self.settings.redis.port}"

    def ports(self) -> list[tuple[str, int]]:
        return [(self.settings.redis.host, self.settings.redis.port)]

    def command(self) -> list[str]:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not shutil.which(binary):
            raise ServiceError(
                "redis: `redis-server` is not installed; run `make setup` (apt-get install redis-server)"
            )
        r = self.settings.redis
        argv = [
            binary,
            "--bind", r.host,
            "--port", str(r.port),
            "--dir", str(self.data_dir),
            "--appendonly", "yes",
            "--daemonize", "no",
            "--save", "",
            "--logfile", "",
        ]
        if r.password is not None:
            argv += ["--requirepass", r.password.get_secret_value()]
        return argv

    def check_health(self) -> None:
        r = self.settings.redis
        client = redis_client.Redis(
            host=r.host,
            port=r.port,
            password=r.password.get_secret_value() if r.password else None,
            socket_timeout=2,
            socket_connect_timeout=2,
        )
        try:
            if not client.ping():
                raise ServiceError("redis did not answer PING")
        finally:
            client.close()
