"""The local cloud's process: moto's AWS APIs, the function runtime, events, schedules, MLflow.

Started in the background by `mhpe cloud up`; run in the foreground with
`python -m infra.localcloud.server --state-dir .localcloud --port 4566`.
"""

from __future__ import annotations

import argparse
import errno
import json
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from infra.localcloud.config import (
    ACCOUNT_ID,
    CLIENT_ENVIRONMENT,
    DEFAULT_MLFLOW_PORT,
    DEFAULT_PORT,
    HOST,
    MLFLOW_ARTIFACT_BUCKET,
    REGION,
    CloudSettings,
    parse_retry_delays,
)

logger = logging.getLogger("infra.localcloud.server")


class StartError(Exception):
    """A part of the local cloud could not start; the message names the part and the fix."""


def configure_moto(port: int) -> None:
    """Set moto's options before any of its backends is used."""
    # Step Functions' Lambda tasks call the Lambda API at http://localhost:$MOTO_PORT.
    os.environ["MOTO_PORT"] = str(port)
    os.environ.update(CLIENT_ENVIRONMENT)
    # Roles attach AWS managed policies (AWSLambdaBasicExecutionRole and others).
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
    from moto.core.config import default_user_config

    default_user_config["stepfunctions"]["execute_state_machine"] = True
    default_user_config["iam"]["load_aws_managed_policies"] = True


class LocalCloudServer:
    """Owns every part of one running local cloud, from start to a clean stop."""

    def __init__(self, settings: CloudSettings) -> None:
        configure_moto(settings.port)
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
        from werkzeug.serving import make_server

        from infra.localcloud import custom_ids, moto_hooks
        from infra.localcloud.cloud import LocalCloud
        from infra.localcloud.edge import EdgeApp
        from infra.localcloud.eventbridge import ScheduleRunner
        from infra.localcloud.gateway.request_handler import GatewayRequestHandler
        from infra.localcloud.mlflow_server import MlflowServer
        from infra.localcloud.persistence import S3Snapshot

        self.settings = settings
        settings.log_dir.mkdir(parents=True, exist_ok=True)
        self.cloud = LocalCloud(settings)
        moto_hooks.install(self.cloud)
        custom_ids.install()
        self.snapshot = S3Snapshot(settings.state_dir / "s3.pickle")
        self.schedules = ScheduleRunner(self.cloud)
        self.mlflow = (
            MlflowServer(
                settings.state_dir,
                settings.mlflow_port,
                settings.endpoint_url,
                settings.log_dir / "mlflow.log",
            )
            if settings.start_mlflow
            else None
        )
        self._ready = threading.Event()
        edge = EdgeApp(
            DomainDispatcherApplication(create_backend_app),
            self.cloud,
            self.snapshot,
            self.status,
        )
        self.http = make_server(
            HOST, settings.port, edge, threaded=True, request_handler=GatewayRequestHandler
        )

    def status(self) -> dict[str, Any]:
        return {
            "status": "running" if self._ready.is_set() else "starting",
            "pid": os.getpid(),
            "endpoint_url": self.settings.endpoint_url,
            "mlflow_url": self.mlflow.url if self.mlflow else None,
            "state_dir": str(self.settings.state_dir),
            "region": REGION,
            "account_id": ACCOUNT_ID,
        }

    def serve(self) -> None:
        """Start everything, serve until SIGTERM or SIGINT, then stop cleanly.

        Raises StartError, after stopping what had started, when MLflow cannot start.
        """
        restored = self.snapshot.restore()
        self._ensure_bucket(MLFLOW_ARTIFACT_BUCKET)
        http_thread = threading.Thread(target=self.http.serve_forever, name="http", daemon=True)
        http_thread.start()
        logger.info("AWS APIs on %s (%d buckets restored)", self.settings.endpoint_url, restored)
        try:
            self._start_mlflow()
        except StartError:
            self.http.shutdown()
            self.cloud.shutdown()
            http_thread.join(timeout=10)
            raise
        try:
            self.snapshot.start()
            self.schedules.start()
            self._write_settings()
            self._ready.set()
            logger.info("local cloud ready on %s", self.settings.endpoint_url)
            _wait_for_stop_signal()
        finally:
            self.stop()
            http_thread.join(timeout=10)

    def _start_mlflow(self) -> None:
        from infra.localcloud.mlflow_server import MlflowStartError

        if self.mlflow is None:
            return
        try:
            self.mlflow.start()
            self.mlflow.wait_ready()
        except (MlflowStartError, RuntimeError) as error:
            self.mlflow.stop()
            raise StartError(str(error)) from error

    def stop(self) -> None:
        logger.info("stopping the local cloud")
        self._ready.clear()
        self.schedules.stop()
        self.http.shutdown()
        self.cloud.shutdown()
        self.snapshot.stop()
        if self.mlflow is not None:
            self.mlflow.stop()
        self.settings.settings_file.unlink(missing_ok=True)
        logger.info("local cloud stopped; state kept in %s", self.settings.state_dir)

    def _ensure_bucket(self, name: str) -> None:
        from moto.s3.models import s3_backends

        backend = s3_backends[ACCOUNT_ID]["aws"]
        if name not in backend.buckets:
            backend.create_bucket(name, REGION)
            backend.put_bucket_versioning(name, "Enabled")

    def _write_settings(self) -> None:
        record = {
            "pid": os.getpid(),
            "port": self.settings.port,
            "endpoint_url": self.settings.endpoint_url,
            "mlflow_url": self.mlflow.url if self.mlflow else None,
            "started_at": time.time(),
        }
        self.settings.settings_file.write_text(json.dumps(record, indent=2))


def _wait_for_stop_signal() -> None:
    stop = threading.Event()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signal_number, lambda *_: stop.set())
    while not stop.wait(1.0):
        pass


def parse_args(argv: list[str]) -> CloudSettings:
    parser = argparse.ArgumentParser(description="Run the M-HPE local cloud in the foreground.")
    parser.add_argument("--state-dir", type=Path, required=True, help="folder for state and logs")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="AWS API port")
    parser.add_argument("--mlflow-port", type=int, default=DEFAULT_MLFLOW_PORT, help="MLflow port")
    parser.add_argument("--no-mlflow", action="store_true", help="do not start MLflow")
    parser.add_argument(
        "--async-retry-delays",
        default=os.environ.get("MHPE_ASYNC_RETRY_DELAYS_S", "60,120"),
        help="seconds before each retry of a failed asynchronous invocation",
    )
    args = parser.parse_args(argv)
    return CloudSettings(
        state_dir=args.state_dir.resolve(),
        port=args.port,
        mlflow_port=args.mlflow_port,
        start_mlflow=not args.no_mlflow,
        async_retry_delays_s=parse_retry_delays(args.async_retry_delays),
    )


def main(argv: list[str] | None = None) -> None:
    settings = parse_args(sys.argv[1:] if argv is None else argv)
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        handlers=[logging.StreamHandler(sys.stderr)],
    )
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    try:
        server = LocalCloudServer(settings)
    except OSError as error:
        if error.errno != errno.EADDRINUSE:
            raise
        logger.error(
            "port %d (the AWS API port) is in use by another program; choose another with "
            "`mhpe cloud up --port PORT`",
            settings.port,
        )
        sys.exit(1)
    try:
        server.serve()
    except StartError as error:
        logger.error("the local cloud did not start: %s", error)
        sys.exit(1)


if __name__ == "__main__":
    main()
