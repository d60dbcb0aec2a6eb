"""Settings of the serve function, read once from its environment.

template.yaml sets every variable. Only MODELS_BUCKET_NAME is required. Without
REPORTS_BUCKET_NAME, audit records still go to the logs and the local file, but not to S3.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from mhpe.serving.exceptions import ServingConfigError

logger = logging.getLogger(__name__)

MODELS_BUCKET_ENV = "MODELS_BUCKET_NAME"
REPORTS_BUCKET_ENV = "REPORTS_BUCKET_NAME"
REFRESH_INTERVAL_ENV = "MODEL_REFRESH_INTERVAL_S"
AUDIT_DIR_ENV = "AUDIT_LOG_DIR"
AUDIT_SHIP_INTERVAL_ENV = "AUDIT_SHIP_INTERVAL_S"
AUDIT_SHIP_RECORDS_ENV = "AUDIT_SHIP_MAX_RECORDS"

DEFAULT_REFRESH_INTERVAL_S = 10.0
# Lambda lets a function write only below /tmp.
DEFAULT_AUDIT_DIR = Path("/tmp/mhpe-audit")
DEFAULT_AUDIT_SHIP_INTERVAL_S = 10.0
DEFAULT_AUDIT_SHIP_RECORDS = 500
AUDIT_FILE_MAX_BYTES = 10 * 1024 * 1024
AUDIT_FILE_BACKUPS = 3

T = TypeVar("T", int, float)


@dataclass(frozen=True)
class ServingSettings:
    """Where the champion and the audit records live, and how often each is checked.

    `refresh_interval_s` is the most time between two checks of the champion pointer.
    Audit records ship to S3 once `audit_ship_max_records` are buffered or the oldest is
    `audit_ship_interval_s` old, whichever comes first.
    """

    models_bucket: str
    reports_bucket: str | None = None
    refresh_interval_s: float = DEFAULT_REFRESH_INTERVAL_S
    audit_dir: Path = DEFAULT_AUDIT_DIR
    audit_ship_interval_s: float = DEFAULT_AUDIT_SHIP_INTERVAL_S
    audit_ship_max_records: int = DEFAULT_AUDIT_SHIP_RECORDS

    def __post_init__(self) -> None:
        if not self.models_bucket:
            raise ServingConfigError(f"{MODELS_BUCKET_ENV} must name the models bucket")
        if not self.refresh_interval_s > 0:
            raise ServingConfigError(
                f"{REFRESH_INTERVAL_ENV} {self.refresh_interval_s} is invalid: it must be "
                "more than 0 seconds"
            )
        if not self.audit_ship_interval_s > 0:
            raise ServingConfigError(
                f"{AUDIT_SHIP_INTERVAL_ENV} {self.audit_ship_interval_s} is invalid: it must "
                "be more than 0 seconds"
            )
        if self.audit_ship_max_records < 1:
            raise ServingConfigError(
                f"{AUDIT_SHIP_RECORDS_ENV} {self.audit_ship_max_records} is invalid: it must "
                "be 1 or more"
            )

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> ServingSettings:
        """Read the settings; raise ServingConfigError naming the variable and its value."""
        environ = os.environ if environ is None else environ
        models_bucket = environ.get(MODELS_BUCKET_ENV, "")
        if not models_bucket:
            raise ServingConfigError(
                f"environment variable {MODELS_BUCKET_ENV} is missing; set it to the models "
                "bucket that holds champion/manifest.json"
            )
        audit_dir = environ.get(AUDIT_DIR_ENV) or str(DEFAULT_AUDIT_DIR)
        return cls(
            models_bucket=models_bucket,
            reports_bucket=environ.get(REPORTS_BUCKET_ENV) or None,
            refresh_interval_s=_number(
                environ, REFRESH_INTERVAL_ENV, float, DEFAULT_REFRESH_INTERVAL_S
            ),
            audit_dir=Path(audit_dir),
            audit_ship_interval_s=_number(
                environ, AUDIT_SHIP_INTERVAL_ENV, float, DEFAULT_AUDIT_SHIP_INTERVAL_S
            ),
            audit_ship_max_records=_number(
                environ, AUDIT_SHIP_RECORDS_ENV, int, DEFAULT_AUDIT_SHIP_RECORDS
            ),
        )


def _number(environ: Mapping[str, str], name: str, parse: Callable[[str], T], default: T) -> T:
    text = environ.get(name, "")
    if not text:
        return default
    try:
        return parse(text)
    except ValueError:
        raise ServingConfigError(
            f"environment variable {name}={text!r} is invalid: expected a {parse.__name__}"
        ) from None
