"""Settings of the embedded local cloud: addresses, account, and where its state lives."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
DEFAULT_PORT = 4566
DEFAULT_MLFLOW_PORT = 5000
REGION = "us-east-1"
# moto's default account; every ARN the local cloud creates carries it.
ACCOUNT_ID = "123456789012"
MLFLOW_ARTIFACT_BUCKET = "mhpe-mlflow-artifacts"
STATE_DIR_NAME = ".localcloud"

# Dummy credentials so that no client ever looks for real ones or the metadata address.
CLIENT_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_EC2_METADATA_DISABLED": "true",
}


@dataclass(frozen=True)
class CloudSettings:
    """The addresses and state folder of one local cloud."""

    state_dir: Path
    port: int = DEFAULT_PORT
    mlflow_port: int = DEFAULT_MLFLOW_PORT
    start_mlflow: bool = True
    # Lambda retries a failed asynchronous invocation after 1 and then 2 minutes.
    async_retry_delays_s: tuple[float, ...] = (60.0, 120.0)

    @property
    def endpoint_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def mlflow_url(self) -> str:
        return f"http://{HOST}:{self.mlflow_port}"

    @property
    def pid_file(self) -> Path:
        return self.state_dir / "localcloud.pid"

    @property
    def settings_file(self) -> Path:
        return self.state_dir / "localcloud.json"

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def server_log(self) -> Path:
        return self.log_dir / "localcloud.log"


def default_state_dir() -> Path:
    """Return the state folder: MHPE_STATE_DIR, else .localcloud/ in the working directory."""
    return Path(os.environ.get("MHPE_STATE_DIR", STATE_DIR_NAME)).resolve()


def parse_retry_delays(text: str) -> tuple[float, ...]:
    """Parse "60,120" into (60.0, 120.0); raise ValueError naming the bad value."""
    delays = []
    for part in text.split(","):
        try:
            delay = float(part)
        except ValueError:
            raise ValueError(
                f"invalid retry delay {part!r}: expected seconds, e.g. 60,120"
            ) from None
        if delay < 0:
            raise ValueError(f"invalid retry delay {part!r}: must be >= 0 seconds")
        delays.append(delay)
    return tuple(delays)
