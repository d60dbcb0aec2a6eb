"""Validate (quality gate 1): curate a passing batch, quarantine a failing one with its report."""

from __future__ import annotations

import json
import logging
from typing import Any

from mhpe.config import QualityRules
from mhpe.data import read_batch
from mhpe.exceptions import BatchFormatError
from mhpe.pipeline.curated import write_curated_partitions
from mhpe.pipeline.quarantine import VALIDATE_STAGE, quarantine_batch
from mhpe.pipeline.state import BatchRef
from mhpe.quality import QualityReport, check_batch
from mhpe.storage import ObjectStore

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
    """
    content = store.read(batch.location)
    try:
        sales = read_batch(content, name=batch.key)
    except BatchFormatError as error:
        document = {"batch": batch.model_dump(), "passed": False, "message": error.reason}
        quarantined = quarantine_batch(
            store, quarantine_bucket, VALIDATE_STAGE, batch, REPORT_DOCUMENT, document
        )
        return {
            "quality_gate": {"passed": False, "message": error.reason},
            "quarantine": quarantined.to_dict(),
        }

    report = check_batch(sales, rules, name=batch.key)
    # No timestamp in the document: a retried step writes the same bytes, and S3's
    # LastModified dates the report.
    document = {**report.to_dict(), "source": batch.model_dump()}
    if not report.passed:
        quarantined = quarantine_batch(
            store, quarantine_bucket, VALIDATE_STAGE, batch, REPORT_DOCUMENT, document
        )
        return {"quality_gate": _gate_summary(report), "quarantine": quarantined.to_dict()}

    valid_sales = sales[report.valid_mask]
    written = write_curated_partitions(valid_sales, batch, store, curated_bucket)
    report_key = f"{ACCEPTED_REPORTS_PREFIX}{batch.key}/{batch.version_label}/{REPORT_DOCUMENT}"
    report_location = store.create(
        curated_bucket,
        report_key,
        _json_bytes(document),
        content_type="application/json",
    )
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


def _json_bytes(document: dict[str, Any]) -> bytes:
    return json.dumps(document, indent=2, default=str).encode()
