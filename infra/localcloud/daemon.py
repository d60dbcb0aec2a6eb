"""Start, find and stop the local cloud's background process (used by `mhpe cloud`)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from infra.localcloud.config import CloudSettings
from infra.localcloud.ports import is_port_free

READY_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 60.0


class CloudError(Exception):
    """The local cloud could not be started, reached or stopped."""


@dataclass(frozen=True)
class RunningCloud:
    pid: int
    endpoint_url: str
    mlflow_url: str | None


def read_pid(settings: CloudSettings) -> int | None:
    """Return the pid of a live local cloud for this state folder, or None."""
    try:
        pid = int(settings.pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    return pid if _alive(pid) else None


def _alive(pid: int) -> bool:
    try:
        # Reap the process if it is our own exited child, so that it stops counting as alive.
        finished, _ = os.waitpid(pid, os.WNOHANG)
        if finished == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def find_running(state_dir: Path) -> RunningCloud | None:
    """Return the running cloud of a state folder from its settings file, or None."""
    settings_file = state_dir / "localcloud.json"
    try:
        record = json.loads(settings_file.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    if not _alive(record["pid"]):
        return None
    return RunningCloud(record["pid"], record["endpoint_url"], record.get("mlflow_url"))


def health(endpoint_url: str) -> dict[str, Any] | None:
    """Return the status that a local cloud's /_mhpe/health route returns, or None."""
    try:
        response = requests.get(f"{endpoint_url}/_mhpe/health", timeout=2)
    except requests.RequestException:
        return None
    return response.json() if response.status_code == 200 else None


def check_ports(settings: CloudSettings) -> None:
    """Raise CloudError naming the port and its option when a port of the cloud is taken."""
    ports = [(settings.port, "the AWS API port", "--port")]
    if settings.start_mlflow:
        if settings.mlflow_port == settings.port:
            raise CloudError(
                f"--port and --mlflow-port are both {settings.port}; choose two different ports"
            )
        ports.append((settings.mlflow_port, "the MLflow port", "--mlflow-port"))
    for port, role, option in ports:
        if not is_port_free(port):
            raise CloudError(
                f"port {port} ({role}) is in use by another program, perhaps another local "
                f"cloud; choose another with `mhpe cloud up {option} PORT`"
            )


def start(settings: CloudSettings, *, timeout_s: float = READY_TIMEOUT_S) -> RunningCloud:
    """Start the cloud in the background and wait until its API and its MLflow respond.

    Raises CloudError when a port is taken, when the process exits while starting (with
    the last lines of its log), or when it is not ready within timeout_s.
    """
    running_pid = read_pid(settings)
    if running_pid is not None:
        raise CloudError(
            f"a local cloud already runs for {settings.state_dir} (pid {running_pid}); "
            "stop it with `mhpe cloud down`"
        )
    check_ports(settings)
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "infra.localcloud.server",
        "--state-dir", str(settings.state_dir),
        "--port", str(settings.port),
        "--mlflow-port", str(settings.mlflow_port),
        "--async-retry-delays", ",".join(str(d) for d in settings.async_retry_delays_s),
    ]  # fmt: skip
    if not settings.start_mlflow:
        command.append("--no-mlflow")
    log_start = settings.server_log.stat().st_size if settings.server_log.exists() else 0
    with settings.server_log.open("ab") as log_file:
        process = subprocess.Popen(
            command,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=Path.cwd(),
        )
    settings.pid_file.write_text(str(process.pid))
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            settings.pid_file.unlink(missing_ok=True)
            raise CloudError(
                f"the local cloud exited with status {process.returncode} while starting; "
                f"last lines of {settings.server_log}:\n{_tail(settings.server_log, log_start)}"
            )
        if _is_ready(settings, process.pid):
            return RunningCloud(
                process.pid,
                settings.endpoint_url,
                settings.mlflow_url if settings.start_mlflow else None,
            )
        time.sleep(0.3)
    stop(settings)
    raise CloudError(
        f"the local cloud was not ready within {timeout_s:.0f} s; log: {settings.server_log}"
    )


def _is_ready(settings: CloudSettings, pid: int) -> bool:
    """Return whether this cloud's own server, and its MLflow, pass their health checks.

    The pid in the health status distinguishes this cloud from another program on the same port.
    """
    status = health(settings.endpoint_url)
    if status is None or status.get("pid") != pid or status.get("status") != "running":
        return False
    if not settings.start_mlflow:
        return True
    if status.get("mlflow_url") != settings.mlflow_url:
        return False
    try:
        response = requests.get(f"{settings.mlflow_url}/health", timeout=2)
    except requests.RequestException:
        return False
    return response.status_code == 200


def stop(settings: CloudSettings, *, timeout_s: float = STOP_TIMEOUT_S) -> bool:
    """Stop the cloud; return False if none was running."""
    pid = read_pid(settings)
    if pid is None:
        settings.pid_file.unlink(missing_ok=True)
        return False
    # The server stops its workers and MLflow itself; the group is killed only if it hangs.
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while _alive(pid):
        if time.monotonic() > deadline:
            os.killpg(pid, signal.SIGKILL)
            break
        time.sleep(0.2)
    settings.pid_file.unlink(missing_ok=True)
    return True


def _tail(path: Path, offset: int = 0, lines: int = 30) -> str:
    """Return the last lines that path gained after byte offset."""
    try:
        with path.open("rb") as file:
            file.seek(offset)
            text = file.read().decode(errors="replace")
    except FileNotFoundError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:]) or "(the log is empty)"
