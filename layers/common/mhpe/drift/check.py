"""One drift check: assemble reference and current data, run the checks, decide, report.

The reference is the champion's training snapshot. The current data are the inputs of the
predictions in the request window and the recent labelled batches. Drift starts a forced
retraining, unless the cooldown runs or the same window already started one. Every run
writes Evidently's HTML reports and a JSON summary to the reports bucket.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from mhpe.drift.concept import (
    ChampionError,
    PricePerSqftShift,
    champion_error,
    price_per_sqft_shift,
)
from mhpe.drift.data_drift import DataDriftResult, at_most_rows, detect_data_drift
from mhpe.drift.decision import LABELLED_DATASET, REQUESTS_DATASET, DriftDecision, decide
from mhpe.drift.labelled import LabelledBatches, recent_labelled_sales
from mhpe.drift.ledger import claim_retraining, release_retraining
from mhpe.drift.reference import ChampionReference, load_champion_reference
from mhpe.drift.reports import summary_key, write_html_report, write_summary
from mhpe.drift.requests import RequestWindow, read_request_window
from mhpe.drift.retrain import execution_name, start_retraining
from mhpe.drift.settings import DriftSettings
from mhpe.exceptions import ConfigError
from mhpe.storage import ObjectStore

logger = logging.getLogger(__name__)

EXECUTION_EXISTS = "ExecutionAlreadyExists"


@dataclass(frozen=True)
class DriftResources:
    """The buckets and the state machine that a drift check reads and starts."""

    reports_bucket: str
    curated_bucket: str
    models_bucket: str
    training_pipeline_arn: str | None


@dataclass(frozen=True)
class CurrentData:
    """The current data of one check and the result of each check on it."""

    requests: RequestWindow
    labelled: LabelledBatches
    requests_drift: DataDriftResult | None
    labelled_drift: DataDriftResult | None
    price_shift: PricePerSqftShift | None
    error: ChampionError | None


def window_id(
    reference: ChampionReference, requests: RequestWindow, labelled: LabelledBatches
) -> str:
    """Return a SHA-256 over the reference's version and every object the check read."""
    identity = {
        "model_version": reference.model_version,
        "dataset_version": reference.dataset_version,
        "requests": sorted(requests.objects),
        "labelled": sorted(labelled.objects),
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


def _measure(
    settings: DriftSettings,
    store: ObjectStore,
    resources: DriftResources,
    reference: ChampionReference,
    now: datetime,
) -> CurrentData:
    requests = read_request_window(
        store, resources.reports_bucket, settings.audit_prefix, now - settings.request_window, now
    )
    labelled = recent_labelled_sales(
        store,
        resources.curated_bucket,
        after_month=reference.last_month,
        max_months=settings.labelled_months,
    )
    columns = {
        "numeric_columns": settings.numeric_columns,
        "categorical_columns": settings.categorical_columns,
        "drift_share": settings.data_drift_share,
        "numeric_method": settings.numeric_method,
        "categorical_method": settings.categorical_method,
    }

    reference_sample = at_most_rows(reference.sales, settings.max_rows)

    requests_drift = None
    if len(requests.inputs) >= settings.min_data_drift_rows:
        requests_drift = detect_data_drift(
            reference_sample,
            at_most_rows(requests.inputs, settings.max_rows),
            dataset=REQUESTS_DATASET,
            **columns,
        )

    labelled_drift = None
    if len(labelled.sales) >= settings.min_data_drift_rows:
        labelled_drift = detect_data_drift(
            reference_sample,
            at_most_rows(labelled.sales, settings.max_rows),
            dataset=LABELLED_DATASET,
            **columns,
        )

    price_shift = error = None
    if len(labelled.sales) >= settings.min_labelled_rows:
        price_shift = price_per_sqft_shift(reference.sales, labelled.sales)
        error = champion_error(
            store.read(reference.onnx),
            labelled.sales,
            metric=settings.error_metric,
            holdout_metrics=reference.holdout_metrics,
        )
    return CurrentData(requests, labelled, requests_drift, labelled_drift, price_shift, error)


def _retrain(
    store: ObjectStore,
    stepfunctions: Any,
    resources: DriftResources,
    settings: DriftSettings,
    *,
    window: str,
    now: datetime,
    decision: DriftDecision,
    details: dict[str, Any],
) -> dict[str, Any]:
    """Claim the ledger and start the pipeline; release the claim when the start fails."""
    if not resources.training_pipeline_arn:
        raise ConfigError(
            "TRAINING_PIPELINE_ARN is missing or empty; template.yaml sets it for the drift "
            "function, which needs it to start a retraining"
        )
    claim = claim_retraining(
        store, resources.reports_bucket, window_id=window, now=now, cooldown=settings.cooldown
    )
    if not claim.granted:
        return {"status": "denied", "reason": claim.reason, "execution_arn": None}

    name = execution_name(window, now)
    try:
        arn = start_retraining(
            stepfunctions,
            resources.training_pipeline_arn,
            name=name,
            reason=decision.reason,
            details=details,
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == EXECUTION_EXISTS:
            logger.info("execution %s already exists; this window started it before", name)
            return {
                "status": "already started",
                "reason": decision.reason,
                "name": name,
                "execution_arn": None,
            }
        release_retraining(store, resources.reports_bucket, claim)
        raise
    except Exception:
        release_retraining(store, resources.reports_bucket, claim)
        raise
    return {"status": "started", "reason": decision.reason, "name": name, "execution_arn": arn}


def run_drift_check(
    *,
    now: datetime,
    run: str,
    settings: DriftSettings,
    resources: DriftResources,
    store: ObjectStore,
    stepfunctions: Any,
    dry_run: bool = False,
) -> dict[str, Any]:
    """Run one drift check at `now` (an aware datetime) and return its summary.

    `run` names the run's folder in the reports bucket. `dry_run` evaluates and reports but
    never starts a retraining.
    """
    summary: dict[str, Any] = {
        "run_id": run,
        "checked_at": now.isoformat(),
        "dry_run": dry_run,
        "settings": settings.model_dump(mode="json"),
    }
    reference = load_champion_reference(store, resources.models_bucket)
    if reference is None:
        summary["retraining"] = {"status": "not needed", "reason": "no champion to compare with"}
        summary["report"] = write_summary(store, resources.reports_bucket, run, summary).to_dict()
        return summary

    current = _measure(settings, store, resources, reference, now)
    decision = decide(
        settings,
        requests=current.requests_drift,
        request_rows=len(current.requests.inputs),
        labelled=current.labelled_drift,
        labelled_rows=len(current.labelled.sales),
        price_shift=current.price_shift,
        error=current.error,
    )
    window = window_id(reference, current.requests, current.labelled)
    logger.info("drift check %s: %s", run, decision.reason)

    html_reports = {
        result.dataset: write_html_report(store, resources.reports_bucket, run, result).to_dict()
        for result in (current.requests_drift, current.labelled_drift)
        if result is not None
    }
    summary.update(
        {
            "window_id": window,
            "reference": reference.to_dict(),
            "requests": current.requests.to_dict(),
            "labelled": current.labelled.to_dict(),
            "data_drift": {
                result.dataset: result.to_dict()
                for result in (current.requests_drift, current.labelled_drift)
                if result is not None
            },
            "price_per_sqft": current.price_shift.to_dict() if current.price_shift else None,
            "champion_error": current.error.to_dict() if current.error else None,
            "decision": decision.to_dict(),
            "html_reports": html_reports,
        }
    )

    if not decision.drifted:
        summary["retraining"] = {"status": "not needed", "reason": decision.reason}
    elif dry_run:
        summary["retraining"] = {"status": "dry run", "reason": decision.reason}
    else:
        details = {
            "run_id": run,
            "window_id": window,
            "summary": f"s3://{resources.reports_bucket}/{summary_key(run)}",
            "champion_version": reference.model_version,
        }
        summary["retraining"] = _retrain(
            store,
            stepfunctions,
            resources,
            settings,
            window=window,
            now=now,
            decision=decision,
            details=details,
        )
    summary["report"] = write_summary(store, resources.reports_bucket, run, summary).to_dict()
    return summary
