"""Validate (quality gate 1): curate a passing batch, quarantine a failing one with its report."""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from mhpe.config import QualityRules
from mhpe.data import read_batch
from mhpe.exceptions import BatchFormatError
from mhpe.pipeline.curated import find_upload_order, write_curated_partitions
from mhpe.pipeline.errors import PipelineInputError
from mhpe.pipeline.quarantine import VALIDATE_STAGE, QuarantinedBatch, quarantine_batch
from mhpe.pipeline.state import BatchRef
from mhpe.quality import QualityReport, check_batch
from mhpe.storage import ObjectExistsError, ObjectStore

logger = logging.getLogger(__name__)

REPORT_DOCUMENT = "report.json"
# Reports of accepted batches (their invalid rows were dropped) live beside the curated data.
ACCEPTED_REPORTS_PREFIX = "quality-reports/"


def _gate_summary(report: QualityReport) -> dict[str, Any]:
    return {
        "passed": report.passed,
        "message": report.message,
        "total_rows": report.total_rows,
        "valid_rows": report.valid_rows,
        "valid_share": report.valid_share,
        "min_valid_share": report.min_valid_share,
        "rule_rejections": {rule: n for rule, n in report.rule_rejections.items() if n},
    }


def validate_batch(
    batch: BatchRef,
    *,
    store: ObjectStore,
    rules: QualityRules,
    curated_bucket: str,
    quarantine_bucket: str,
) -> dict[str, Any]:
    """Run the quality gate on one batch version and return `{"quality_gate": {...}, ...}`.

    A failing batch is copied to the quarantine bucket with its per-row report and nothing is
    written to the curated bucket. A passing batch's valid rows go to the curated bucket.
    A batch without etag, size or sequencer (an execution started by hand) gets them from
    the object and from earlier curated partitions of the same version, see `complete_batch`.
    """
    content = store.read(batch.location)
    batch = complete_batch(batch, content, store, curated_bucket)
    try:
        sales = read_batch(content, name=batch.key)
    except BatchFormatError as error:
        document = {"batch": batch_source(batch), "passed": False, "message": error.reason}
        quarantined = _quarantine(store, quarantine_bucket, batch, document)
        return {
            "quality_gate": {
                "passed": False,
                "message": error.reason,
                "cause": rejection_cause(error.reason, quarantined),
            },
            "quarantine": quarantined.to_dict(),
        }

    report = check_batch(sales, rules, name=batch.key)
    # No timestamp in the document: a retried step writes the same bytes, and S3's
    # LastModified dates the report.
    document = {**report.to_dict(), "source": batch_source(batch)}
    if not report.passed:
        quarantined = _quarantine(store, quarantine_bucket, batch, document)
        gate = {**_gate_summary(report), "cause": rejection_cause(report.message, quarantined)}
        return {"quality_gate": gate, "quarantine": quarantined.to_dict()}

    valid_sales = sales[report.valid_mask]
    written = write_curated_partitions(valid_sales, batch, store, curated_bucket)
    report_key = f"{ACCEPTED_REPORTS_PREFIX}{batch.key}/{batch.version_label}/{REPORT_DOCUMENT}"
    try:
        report_location = store.create(
            curated_bucket,
            report_key,
            _json_bytes(document),
            content_type="application/json",
        )
    except ObjectExistsError as error:
        raise _validated_before_error(batch, error) from error
    logger.info(
        "curated %d valid rows of %s into %d partitions",
        len(valid_sales),
        batch.key,
        len(written),
    )
    return {
        "quality_gate": _gate_summary(report),
        "curated": {
            "bucket": curated_bucket,
            "keys": [location.key for location in written],
            "rows": len(valid_sales),
            "report": report_location.to_dict(),
        },
    }


def complete_batch(
    batch: BatchRef, content: bytes, store: ObjectStore, curated_bucket: str
) -> BatchRef:
    """Fill in the etag, size and sequencer that an execution started by hand may lack.

    The etag becomes the MD5 of the bytes read, which is S3's ETag of an object uploaded in
    one part. The sequencer is taken from curated partitions that an earlier validation of the
    same version wrote. Without one, the version sorts before every notified upload of its
    key, so readers of the curated data prefer those uploads (see `load_curated_sales`).
    """
    changes: dict[str, Any] = {}
    if batch.etag is None:
        changes["etag"] = hashlib.md5(content).hexdigest()
    if batch.size_bytes is None:
        changes["size_bytes"] = len(content)
    completed = batch.model_copy(update=changes)
    if completed.sequencer is None:
        order = find_upload_order(store, curated_bucket, completed)
        if order is None:
            logger.warning(
                "batch %s has no sequencer and was not curated before; its rows rank below "
                "every notified upload of the same key",
                completed.location.uri,
            )
        completed = completed.model_copy(update={"sequencer": order})
    return completed


def batch_source(batch: BatchRef) -> dict[str, Any]:
    """Describe the batch version in reports: the fields that identify the object.

    The sequencer is left out because it belongs to the S3 notification, not to the object,
    so a report of an execution started by hand has the same bytes as the ingest-started one.
    """
    return {
        "bucket": batch.bucket,
        "key": batch.key,
        "version_id": batch.version_id,
        "etag": batch.etag.strip('"') if batch.etag else None,
        "size_bytes": batch.size_bytes,
    }


def rejection_cause(message: str, quarantined: QuarantinedBatch) -> str:
    """Build the cause of a QualityGateFailed execution: the verdict and where its report is."""
    return f"{message}. The batch and its report are at {quarantined.document.uri}"


def _quarantine(
    store: ObjectStore, quarantine_bucket: str, batch: BatchRef, document: dict[str, Any]
) -> QuarantinedBatch:
    try:
        return quarantine_batch(
            store, quarantine_bucket, VALIDATE_STAGE, batch, REPORT_DOCUMENT, document
        )
    except ObjectExistsError as error:
        raise _validated_before_error(batch, error) from error


def _validated_before_error(batch: BatchRef, error: ObjectExistsError) -> PipelineInputError:
    return PipelineInputError(
        f"batch {batch.location.uri} was validated before, and the report {error.uri} of that "
        "validation differs from this one; the quality rules or the batch fields "
        "(version_id, etag, size_bytes) differ. Start the execution with the batch object of "
        "the ingest-started execution's input, or upload the file again as a new version"
    )


def _json_bytes(document: dict[str, Any]) -> bytes:
    return json.dumps(document, indent=2, default=str).encode()
