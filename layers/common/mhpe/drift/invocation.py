"""The drift function's input: an EventBridge scheduled event, or a direct invocation."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, field_validator

from mhpe.drift.check import DriftResources
from mhpe.exceptions import ConfigError


class DriftInvocation(BaseModel):
    """What a drift check needs from its event.

    A scheduled event carries `time`, the moment the schedule fired, which becomes the end of
    the request window. Without it the check uses the current time. `dry_run` (direct
    invocations only) reports without starting a retraining.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    time: datetime | None = None
    dry_run: bool = False

    @field_validator("time")
    @classmethod
    def _check_time_zone(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError(
                f"time {value.isoformat()} needs a UTC offset, e.g. 2026-12-04T00:00:00Z"
            )
        return value

    def evaluation_time(self) -> datetime:
        return self.time.astimezone(UTC) if self.time is not None else datetime.now(UTC)


def resources_from_environment(environ: Mapping[str, str] | None = None) -> DriftResources:
    """Read the buckets and the state machine from the function's environment.

    Raises ConfigError naming every bucket variable that is missing or empty. The state
    machine's ARN may be missing; the check then raises only when drift needs it.
    """
    variables = os.environ if environ is None else environ
    names = ("REPORTS_BUCKET_NAME", "CURATED_BUCKET_NAME", "MODELS_BUCKET_NAME")
    missing = [name for name in names if not variables.get(name)]
    if missing:
        raise ConfigError(
            f"environment variables {', '.join(missing)} are missing or empty; template.yaml "
            "sets them for the drift function"
        )
    return DriftResources(
        reports_bucket=variables["REPORTS_BUCKET_NAME"],
        curated_bucket=variables["CURATED_BUCKET_NAME"],
        models_bucket=variables["MODELS_BUCKET_NAME"],
        training_pipeline_arn=variables.get("TRAINING_PIPELINE_ARN") or None,
    )
