"""The state that flows through the training pipeline's executions, as pydantic models.

The ingest function starts an execution with `{"batch": ..., "force": false, "reason": ...}`;
a schedule or the drift function starts one with `{"force": true, "reason": ...}` and no batch.
Each step adds its result under its own key (validation, training, evaluation, promotion), so
a later step reads what the earlier ones decided.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mhpe.storage import ObjectLocation

_UNSAFE_CHARACTERS = re.compile(r"[^A-Za-z0-9._-]+")


class BatchRef(BaseModel):
    """One uploaded batch object: the version that S3 notified, when the bucket is versioned."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    bucket: str = Field(min_length=3)
    key: str = Field(min_length=1)
    version_id: str | None = None
    etag: str | None = None
    size_bytes: int | None = None
    # S3's hexadecimal event sequencer, which orders the uploads of one key.
    sequencer: str | None = Field(default=None, pattern=r"^[0-9A-Fa-f]{1,64}$")

    @property
    def location(self) -> ObjectLocation:
        return ObjectLocation(self.bucket, self.key, self.version_id)

    @property
    def version_label(self) -> str:
        """Name this object version for use in keys: the version id, else the ETag."""
        if self.version_id and self.version_id != "null":
            return _UNSAFE_CHARACTERS.sub("_", self.version_id)
        if self.etag:
            return "etag-" + _UNSAFE_CHARACTERS.sub("_", self.etag.strip('"'))
        return "unversioned"

    @property
    def upload_order(self) -> str:
        """Return the sequencer left-padded to a fixed width, so that strings sort as S3 orders."""
        return (self.sequencer or "0").upper().zfill(64)

    @property
    def file_name(self) -> str:
        return self.key.rsplit("/", 1)[-1]


class ExecutionRef(BaseModel):
    """The execution that runs a step, whose ARN is the steps' correlation id."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    arn: str


class ClaimRelease(BaseModel):
    """The train function's input on the state machine's Train Catch path."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    release_claim: Literal[True]
    execution: ExecutionRef


class PipelineState(BaseModel):
    """The execution's state as each step receives it."""

    model_config = ConfigDict(extra="allow", frozen=True)

    batch: BatchRef | None = None
    force: bool = False
    reason: str = ""
    execution: ExecutionRef | None = None
    validation: dict[str, Any] | None = None
    training: dict[str, Any] | None = None
    evaluation: dict[str, Any] | None = None

    @property
    def execution_arn(self) -> str:
        return self.execution.arn if self.execution else "(no execution)"

    @property
    def execution_name(self) -> str:
        """Return the last part of the execution ARN, or "manual" for a direct invocation."""
        if self.execution is None:
            return "manual"
        return _UNSAFE_CHARACTERS.sub("_", self.execution.arn.rsplit(":", 1)[-1])
