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

logger = logging.getLogger(__name__)

READY_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 15.0


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
        """Wait until /health returns 200; raise with the log's path if MLflow exits or hangs."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(
                    f"MLflow exited with status {self._process.returncode}; see {self._log_path}"
                )
            try:
                if requests.get(f"{self.url}/health", timeout=2).status_code == 200:
                    logger.info("MLflow is ready on %s", self.url)
                    return
            except requests.RequestException:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"MLflow did not respond on {self.url} within {timeout_s:.0f} s; see {self._log_path}")

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
