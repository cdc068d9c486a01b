"""Starting, watching and stopping one local service process.

A service is started detached (its own session), with its output in `<home>/logs/<name>.log`
and its pid in `<home>/run/<name>.pid`. `stop` only ever signals a process whose pid file we
wrote, so a service someone else started is never touched.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

import psutil

from jobs.errors import PortInUseError, ServiceError
from jobs.settings import Settings


@dataclass(frozen=True)
class ServiceStatus:
    """What `journeys services status` prints for one service."""

    name: str
    address: str
    pid: int | None
    healthy: bool
    detail: str = ""

    def line(self) -> str:
        """One human-readable line."""
        state = "healthy" if self.healthy else ("running, not healthy" if self.pid else "stopped")
        pid = f" pid {self.pid}" if self.pid else ""
        extra = f" ({self.detail})" if self.detail else ""
        return f"{self.name:<6} {self.address:<22} {state}{pid}{extra}"


class Service(ABC):
    """A local service process managed through pid and log files under the settings' home."""

    name: str
    start_timeout_s: float = 60.0

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    # What each service defines ------------------------------------------------------------

    @property
    @abstractmethod
    def address(self) -> str:
        """host:port clients connect to."""

    @abstractmethod
    def ports(self) -> list[tuple[str, int]]:
        """Every (host, port) the service listens on."""

    @abstractmethod
    def command(self) -> list[str]:
        """The argv that runs the service in the foreground."""

    @abstractmethod
    def check_health(self) -> None:
        """Raise if the service does not answer like a healthy one."""

    def prepare(self) -> None:
        """Create directories and configuration before the first start (idempotent)."""

    def after_start(self) -> None:
        """Work to do once healthy, such as creating topics (idempotent)."""

    def environment(self) -> dict[str, str]:
        """The environment the process runs with."""
        return dict(os.environ)

    # Shared mechanics ---------------------------------------------------------------------

    @property
    def data_dir(self) -> Path:
        """Where this service keeps its data."""
        return self.settings.home / self.name

    @property
    def pid_file(self) -> Path:
        return self.settings.run_dir / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.settings.logs_dir / f"{self.name}.log"

    def running_pid(self) -> int | None:
        """The pid of the process we started, if it is still alive.

        The pid file holds the pid and the process's start time, so a pid the system has since
        given to another process is not mistaken for ours.
        """
        try:
            pid_text, started_text = self.pid_file.read_text().split()
            pid, started = int(pid_text), float(started_text)
        except (FileNotFoundError, ValueError):
            return None
        try:
            proc = psutil.Process(pid)
            ours = proc.status() != psutil.STATUS_ZOMBIE and abs(proc.create_time() - started) < 0.01
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            ours = False
        if not ours:
            self.pid_file.unlink(missing_ok=True)
            return None
        return pid

    def healthy(self) -> tuple[bool, str]:
        """Whether the service answers, and why not."""
        try:
            self.check_health()
        except Exception as exc:  # any failure to answer means unhealthy; the reason is shown
            return False, f"{type(exc).__name__}: {exc}"
        return True, ""

    def status(self) -> ServiceStatus:
        """The service's pid and health."""
        pid = self.running_pid()
        ok, why = self.healthy()
        detail = ""
        if ok and pid is None:
            detail = "not started by journeys"
        elif pid and not ok:
            detail = why
        return ServiceStatus(self.name, self.address, pid, ok, detail)

    def start(self) -> bool:
        """Start the service and wait until it is healthy; False if it was already running."""
        if self.running_pid() is not None:
            self._wait_healthy(None)
            self.after_start()
            return False
        for host, port in self.ports():
            holder = port_holder(host, port)
            if holder is not None:
                raise PortInUseError(f"{self.name}: port {port} on {host} is already in use by {holder}")
        for folder in (self.settings.logs_dir, self.settings.run_dir, self.data_dir):
            folder.mkdir(parents=True, exist_ok=True)
        self.prepare()
        with self.log_file.open("ab") as log:
            proc = subprocess.Popen(
                self.command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.data_dir,
                env=self.environment(),
                start_new_session=True,
            )
        self.pid_file.write_text(f"{proc.pid} {psutil.Process(proc.pid).create_time()}\n")
        try:
            self._wait_healthy(proc)
            self.after_start()
        except BaseException:
            self.stop()
            raise
        return True

    def _wait_healthy(self, proc: subprocess.Popen[bytes] | None) -> None:
        deadline = time.monotonic() + self.start_timeout_s
        why = ""
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                raise ServiceError(
                    f"{self.name} exited with code {proc.returncode} while starting; "
                    f"last lines of {self.log_file}:\n{tail(self.log_file)}"
                )
            ok, why = self.healthy()
            if ok:
                return
            time.sleep(0.25)
        raise ServiceError(
            f"{self.name} did not become healthy within {self.start_timeout_s:.0f}s ({why}); "
            f"see {self.log_file}"
        )

    def stop(self, timeout_s: float = 30.0) -> bool:
        """Stop the process we started (SIGTERM, then SIGKILL); False if none was running."""
        pid = self.running_pid()
        if pid is None:
            return False
        proc = psutil.Process(pid)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout_s)
        except psutil.TimeoutExpired:
            os.killpg(pid, signal.SIGKILL)
            proc.wait(timeout=10)
        except psutil.NoSuchProcess:
            pass
        self.pid_file.unlink(missing_ok=True)
        return True


def port_holder(host: str, port: int) -> str | None:
    """Who holds `port` on `host`, as 'name (pid N)', or None if the port is free."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
            return None
        except OSError:
            pass
    try:
        for conn in psutil.net_connections(kind="tcp"):
            if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN:
                if conn.pid is None:
                    return "another process"
                try:
                    name = psutil.Process(conn.pid).name()
                except psutil.Error:
                    name = "a process"
                return f"{name} (pid {conn.pid})"
    except psutil.AccessDenied:
        pass
    return "another process"


def tail(path: Path, lines: int = 20) -> str:
    """The last lines of a log file, or a note that it is missing."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return f"({path} does not exist)"
