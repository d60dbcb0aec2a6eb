"""`mhpe cloud up` on busy ports and with a server that dies: a clear failure, never success."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.localcloud import daemon
from infra.localcloud.config import CloudSettings
from tests.integration.conftest import CLIENT_ENVIRONMENT, REPOSITORY, Cloud, free_port, run_mhpe

pytestmark = pytest.mark.integration

SERVER_EXIT_TIMEOUT_S = 120


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port of 127.0.0.1 on which another program listens."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


def _cloud_up(state_dir: Path, port: int, mlflow_port: int) -> subprocess.CompletedProcess[str]:
    return run_mhpe(
        state_dir,
        "cloud", "up", "--port", str(port), "--mlflow-port", str(mlflow_port), "--no-redeploy",
        check=False,
        timeout_s=240,
    )  # fmt: skip


def _assert_nothing_started(state_dir: Path) -> None:
    assert not (state_dir / "localcloud.pid").exists()
    assert not (state_dir / "localcloud.json").exists()


def test_cloud_up_rejects_busy_api_port(tmp_path: Path, busy_port: int) -> None:
    result = _cloud_up(tmp_path, busy_port, free_port())

    assert result.returncode != 0
    assert f"port {busy_port} (the AWS API port) is in use" in result.stderr
    assert "--port PORT" in result.stderr
    assert "running" not in result.stdout
    _assert_nothing_started(tmp_path)


def test_cloud_up_rejects_busy_mlflow_port(tmp_path: Path, busy_port: int) -> None:
    result = _cloud_up(tmp_path, free_port(), busy_port)

    assert result.returncode != 0
    assert f"port {busy_port} (the MLflow port) is in use" in result.stderr
    assert "--mlflow-port PORT" in result.stderr
    _assert_nothing_started(tmp_path)


def test_cloud_up_rejects_same_port_twice(tmp_path: Path) -> None:
    port = free_port()

    result = _cloud_up(tmp_path, port, port)

    assert result.returncode != 0
    assert f"--port and --mlflow-port are both {port}" in result.stderr


def test_cloud_up_rejects_ports_of_running_cloud(cloud: Cloud, tmp_path: Path) -> None:
    same_api_port = _cloud_up(tmp_path / "api", cloud.port, free_port())
    same_mlflow_port = _cloud_up(tmp_path / "mlflow", free_port(), cloud.mlflow_port)

    assert same_api_port.returncode != 0
    assert f"port {cloud.port} (the AWS API port)" in same_api_port.stderr
    assert same_mlflow_port.returncode != 0
    assert f"port {cloud.mlflow_port} (the MLflow port)" in same_mlflow_port.stderr


def test_cloud_up_shows_log_when_server_exits(tmp_path: Path) -> None:
    # An S3 snapshot that cannot be unpickled stops the server right after it starts.
    (tmp_path / "s3.pickle").write_bytes(b"not a pickle")

    result = _cloud_up(tmp_path, free_port(), free_port())

    assert result.returncode != 0
    assert "the local cloud exited with status 1 while starting" in result.stderr
    assert "UnpicklingError" in result.stderr
    _assert_nothing_started(tmp_path)


def test_server_exits_when_mlflow_port_is_taken(tmp_path: Path, busy_port: int) -> None:
    # The server checks the MLflow port itself too, for a port taken after `cloud up` looked.
    command = [
        sys.executable, "-m", "infra.localcloud.server", "--state-dir", str(tmp_path),
        "--port", str(free_port()), "--mlflow-port", str(busy_port),
    ]  # fmt: skip
    result = subprocess.run(
        command,
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=SERVER_EXIT_TIMEOUT_S,
        env={**os.environ, **CLIENT_ENVIRONMENT},
        check=False,
    )

    assert result.returncode == 1
    assert f"port {busy_port} (the MLflow port) is in use" in result.stderr
    assert not (tmp_path / "localcloud.json").exists()


def test_ready_check_rejects_another_server(cloud: Cloud, tmp_path: Path) -> None:
    settings = CloudSettings(tmp_path, port=cloud.port, mlflow_port=cloud.mlflow_port)
    pid = daemon.find_running(cloud.state_dir).pid
    other_mlflow = CloudSettings(tmp_path, port=cloud.port, mlflow_port=free_port())

    assert daemon._is_ready(settings, pid)
    assert not daemon._is_ready(settings, pid + 1)
    assert not daemon._is_ready(other_mlflow, pid)
