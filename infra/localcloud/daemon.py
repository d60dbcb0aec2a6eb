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
    try:
        response = requests.get(f"{endpoint_url}/_mhpe/health", timeout=2)
    except requests.RequestException:
        return None
    return response.json() if response.status_code == 200 else None


def start(settings: CloudSettings, *, timeout_s: float = READY_TIMEOUT_S) -> RunningCloud:
    """Start the cloud in the background and wait until it is ready."""
    running_pid = read_pid(settings)
    if running_pid is not None:
        raise CloudError(
            f"a local cloud already runs for {settings.state_dir} (pid {running_pid}); "
            "stop it with `mhpe cloud down`"
        )
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
                f"the local cloud exited with status {process.returncode} while starting:\n"
                f"{_tail(settings.server_log)}"
            )
        status = health(settings.endpoint_url)
        if status is not None and status.get("status") == "running":
            return RunningCloud(process.pid, settings.endpoint_url, status.get("mlflow_url"))
        time.sleep(0.3)
    stop(settings)
    raise CloudError(
        f"the local cloud was not ready within {timeout_s:.0f} s; log: {settings.server_log}"
    )


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


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return f"(no log at {path})"
