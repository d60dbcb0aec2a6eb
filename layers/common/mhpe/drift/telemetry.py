"""The drift check's metrics in CloudWatch embedded metric format, through Powertools Metrics.

Per run: DataDriftShareRequests and DataDriftShareLabelled (percent of compared columns that
drifted), PricePerSqftShift (percent, signed), ChampionErrorRatio (recent error over holdout
error), DriftDetected and RetrainingStarted (0 or 1). A check that did not run emits nothing,
so a dashboard shows a gap, not a zero.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

NAMESPACE = "MHPE"
_CHECK_METRICS = {
    "recent requests": ("DataDriftShareRequests", MetricUnit.Percent, 100.0),
    "recent labelled batches": ("DataDriftShareLabelled", MetricUnit.Percent, 100.0),
    "price per sqft": ("PricePerSqftShift", MetricUnit.Percent, 100.0),
    "champion error": ("ChampionErrorRatio", MetricUnit.NoUnit, 1.0),
}


def record_drift_metrics(metrics: Metrics, summary: dict[str, Any]) -> None:
    """Add one run's metrics from its summary (`DriftCheck.summary`) to `metrics`."""
    decision = summary.get("decision")
    if decision is None:
        return
    for check in decision["checks"]:
        if check["value"] is None or check["name"] not in _CHECK_METRICS:
            continue
        name, unit, scale = _CHECK_METRICS[check["name"]]
        metrics.add_metric(name=name, unit=unit, value=scale * float(check["value"]))
    metrics.add_metric(
        name="DriftDetected", unit=MetricUnit.Count, value=int(bool(decision["drifted"]))
    )
    started = summary.get("retraining", {}).get("status") == "started"
    metrics.add_metric(name="RetrainingStarted", unit=MetricUnit.Count, value=int(started))
