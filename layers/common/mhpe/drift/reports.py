"""Drift reports in the reports bucket: Evidently's HTML per dataset and one JSON summary.

Keys are `drift/runs/{run_id}/{dataset}.html` and `drift/runs/{run_id}/summary.json`, where
the run id starts with the check's UTC time, so a listing sorts runs in time order.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from mhpe.drift.data_drift import DataDriftResult
from mhpe.storage import ObjectLocation, ObjectStore

RUNS_PREFIX = "drift/runs/"
SUMMARY_FILE = "summary.json"
HTML_CONTENT_TYPE = "text/html; charset=utf-8"
_UNSAFE = re.compile(r"[^a-z0-9]+")


def run_id(now: datetime, suffix: str) -> str:
    """Return "20261204T170000Z-{suffix}", with the suffix reduced to safe characters."""
    return f"{now:%Y%m%dT%H%M%SZ}-{_UNSAFE.sub('-', suffix.lower()).strip('-')[:36]}"


def run_prefix(run: str) -> str:
    return f"{RUNS_PREFIX}{run}/"


def html_key(run: str, dataset: str) -> str:
    return f"{run_prefix(run)}{_UNSAFE.sub('-', dataset.lower()).strip('-')}.html"


def summary_key(run: str) -> str:
    return run_prefix(run) + SUMMARY_FILE


def write_html_report(
    store: ObjectStore, bucket: str, run: str, result: DataDriftResult
) -> ObjectLocation:
    return store.create(
        bucket,
        html_key(run, result.dataset),
        result.html.encode("utf-8"),
        content_type=HTML_CONTENT_TYPE,
    )


def write_summary(
    store: ObjectStore, bucket: str, run: str, summary: dict[str, Any]
) -> ObjectLocation:
    body = json.dumps(summary, indent=2, default=str).encode("utf-8")
    return store.create(bucket, summary_key(run), body, content_type="application/json")
