"""The MLflow tracking server and model registry that runs beside the local cloud.

Runs and registered models live in SQLite under state_dir/mlflow/; artifacts go to the local
cloud's S3 bucket MLFLOW_ARTIFACT_BUCKET, proxied by the server (--serve-artifacts), so clients
need no S3 access of their own.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from infra.localcloud.config import CLIENT_ENVIRONMENT, HOST, MLFLOW_ARTIFACT_BUCKET
from infra.localcloud.ports import is_port_free

logger = logging.getLogger(__name__)

READY_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 15.0
LOG_TAIL_LINES = 20


class MlflowStartError(RuntimeError):
    """The MLflow server could not start on its port, or exited while starting."""


class MlflowServer:
    """Starts, checks and stops `mlflow server` as a child process."""

    def __init__(self, state_dir: Path, port: int, s3_endpoint_url: str, log_path: Path) -> None:
        self.port = port
        self.url = f"http://{HOST}:{port}"
        self._database = state_dir / "mlflow" / "mlflow.db"
        self._s3_endpoint_url = s3_endpoint_url
        self._log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start `mlflow server`; raise MlflowStartError if its port is already taken."""
        if not is_port_free(self.port):
            raise MlflowStartError(
                f"port {self.port} (the MLflow port) is in use by another program, perhaps "
                "another local cloud's MLflow; choose another with `mhpe cloud up --mlflow-port`"
            )
        self._database.parent.mkdir(parents=True, exist_ok=True)
        self._log_path.parent.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable, "-m", "mlflow", "server",
            "--host", HOST,
            "--port", str(self.port),
            "--backend-store-uri", f"sqlite:///{self._database}",
            "--serve-artifacts",
            "--artifacts-destination", f"s3://{MLFLOW_ARTIFACT_BUCKET}/",
            "--workers", "1",
        ]  # fmt: skip
        environment = {
            **os.environ,
            **CLIENT_ENVIRONMENT,
            "MLFLOW_S3_ENDPOINT_URL": self._s3_endpoint_url,
        }
        log_file = self._log_path.open("ab")
        self._process = subprocess.Popen(
            command,
            env=environment,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            # Its own process group, so that stop() also ends the server's worker processes.
            start_new_session=True,
        )
        log_file.close()
        logger.info("starting MLflow on %s (pid %d)", self.url, self._process.pid)

    def wait_ready(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        """Wait until /health returns 200 while this server's process runs.

        Raises MlflowStartError with the last lines of its log if MLflow exits, and
        RuntimeError if it does not respond within timeout_s.
        """
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self._raise_if_exited()
            try:
                answered = requests.get(f"{self.url}/health", timeout=2).status_code == 200
            except requests.RequestException:
                answered = False
            # A server that fails to bind its port exits. So the process must still run a
            # second after the 200, or the 200 came from another program on that port.
            # NOTE: the check is a heuristic. A program that binds the port between the
            # free-port check in start() and MLflow's own bind may still respond first.
            if answered:
                time.sleep(1.0)
                self._raise_if_exited()
                logger.info("MLflow is ready on %s", self.url)
                return
            time.sleep(0.5)
        raise RuntimeError(
            f"MLflow did not respond on {self.url} within {timeout_s:.0f} s; see {self._log_path}"
        )

    def _raise_if_exited(self) -> None:
        if self._process is None or self._process.poll() is None:
            return
        raise MlflowStartError(
            f"MLflow exited with status {self._process.returncode} while starting on port "
            f"{self.port}; last lines of {self._log_path}:\n{self._log_tail()}"
        )

    def _log_tail(self) -> str:
        try:
            lines = self._log_path.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return f"(no log at {self._log_path})"
        return "\n".join(lines[-LOG_TAIL_LINES:])

    def stop(self) -> None:
        if self._process is None or self._process.poll() is not None:
            return
        os.killpg(self._process.pid, signal.SIGTERM)
        try:
            self._process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            logger.warning("MLflow did not stop within %s s; killing it", STOP_TIMEOUT_S)
            os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait()
        logger.info("MLflow stopped")
