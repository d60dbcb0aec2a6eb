"""Ingest: read an uploaded batch, quarantine it when unusable, else start the pipeline once.

The execution name is derived from the bucket, the key and the object version, so a second
delivery of the same S3 notification (S3 delivers at least once) finds the execution already
started and starts nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from typing import Any, Literal

from botocore.exceptions import ClientError

from mhpe.data import read_batch
from mhpe.exceptions import BatchFormatError
from mhpe.pipeline.quarantine import INGEST_STAGE, quarantine_batch
from mhpe.pipeline.state import BatchRef
from mhpe.storage import ObjectMissingError, ObjectStore

logger = logging.getLogger(__name__)

# Step Functions accepts execution names of at most 80 characters from this set.
EXECUTION_NAME_MAX_LENGTH = 80
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
_READABLE_PART_LENGTH = 40
_DIGEST_LENGTH = 32
REASON_DOCUMENT = "reason.json"
BATCH_UPLOADED_REASON = "batch uploaded"

IngestStatus = Literal["started", "already_started", "quarantined", "missing"]


@dataclass(frozen=True)
class IngestOutcome:
    """What ingest did with one uploaded batch."""

    batch: BatchRef
    status: IngestStatus
    execution_name: str
    execution_arn: str | None = None
    rows: int | None = None
    reason: str | None = None
    quarantine: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "batch": self.batch.model_dump(),
            "status": self.status,
            "execution_name": self.execution_name,
            "execution_arn": self.execution_arn,
            "rows": self.rows,
            "reason": self.reason,
            "quarantine": self.quarantine,
        }


def execution_name(batch: BatchRef) -> str:
    """Derive a valid, deterministic execution name from the bucket, key and version.

    The name starts with the file name for readers (e.g. "2008-06-csv-") and ends with 32 hex
    digits of a SHA-256 over the bucket, the key and the version label, which make it unique.
    """
    identity = f"{batch.bucket}\0{batch.key}\0{batch.version_label}"
    digest = hashlib.sha256(identity.encode()).hexdigest()[:_DIGEST_LENGTH]
    readable = _NAME_UNSAFE.sub("-", batch.file_name).strip("-")[:_READABLE_PART_LENGTH]
    name = f"{readable}-{digest}" if readable else digest
    assert len(name) <= EXECUTION_NAME_MAX_LENGTH
    return name


def pipeline_input(batch: BatchRef, rows: int) -> dict[str, Any]:
    """Build the execution input for an accepted batch."""
    return {
        "batch": {**batch.model_dump(), "rows": rows},
        "force": False,
        "reason": BATCH_UPLOADED_REASON,
    }


def ingest_batch(
    batch: BatchRef,
    *,
    store: ObjectStore,
    stepfunctions: Any,
    state_machine_arn: str,
    quarantine_bucket: str,
) -> IngestOutcome:
    """Check that the batch reads as a sales table and start its pipeline execution.

    An unusable batch (wrong extension, unreadable, empty, missing columns) is quarantined
    with a JSON reason and reported, not raised. A version deleted before ingest reads it is
    logged and skipped. Other S3 and Step Functions errors propagate, so that Lambda retries
    the asynchronous invocation.
    """
    name = execution_name(batch)
    try:
        content = store.read(batch.location)
    except ObjectMissingError as error:
        logger.warning("batch %s vanished before ingest read it: %s", batch.key, error)
        return IngestOutcome(batch, "missing", name, reason=str(error))

    try:
        sales = read_batch(content, name=batch.key)
    except BatchFormatError as error:
        document = {
            "batch": batch.model_dump(),
            "stage": INGEST_STAGE,
            "reason": error.reason,
            "problem": error.problem,
        }
        quarantined = quarantine_batch(
            store, quarantine_bucket, INGEST_STAGE, batch, REASON_DOCUMENT, document
        )
        return IngestOutcome(
            batch, "quarantined", name, reason=error.reason, quarantine=quarantined.to_dict()
        )

    payload = json.dumps(pipeline_input(batch, len(sales)))
    try:
        response = stepfunctions.start_execution(
            stateMachineArn=state_machine_arn, name=name, input=payload
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ExecutionAlreadyExists":
            raise
        execution_arn = _execution_arn(state_machine_arn, name)
        logger.info("execution %s already started for %s", execution_arn, batch.location.uri)
        return IngestOutcome(batch, "already_started", name, execution_arn, rows=len(sales))

    logger.info(
        "started execution %s for %s (%d rows)",
        response["executionArn"],
        batch.location.uri,
        len(sales),
    )
    return IngestOutcome(batch, "started", name, response["executionArn"], rows=len(sales))


def _execution_arn(state_machine_arn: str, name: str) -> str:
    # arn:aws:states:REGION:ACCOUNT:stateMachine:NAME -> ...:execution:NAME:EXECUTION
    return state_machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{name}"
