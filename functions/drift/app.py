"""Drift handler: runs one drift check, on the drift schedule or on demand."""

from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.utilities.typing import LambdaContext
from mhpe.drift import load_drift_settings, run_drift_check
from mhpe.drift.invocation import DriftInvocation, resources_from_environment
from mhpe.drift.reports import run_id
from mhpe.drift.telemetry import NAMESPACE, record_drift_metrics
from mhpe.storage import ObjectStore

logger = Logger()
metrics = Metrics(namespace=NAMESPACE)
copy_config_to_registered_loggers(source_logger=logger, include={"mhpe"})

_store = ObjectStore()
_stepfunctions = boto3.client("stepfunctions")


@metrics.log_metrics
@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Return the decision, the retraining it started (if any) and the summary's location."""
    invocation = DriftInvocation.model_validate(event)
    now = invocation.evaluation_time()
    summary = run_drift_check(
        now=now,
        run=run_id(now, context.aws_request_id),
        settings=load_drift_settings(),
        resources=resources_from_environment(),
        store=_store,
        stepfunctions=_stepfunctions,
        dry_run=invocation.dry_run,
    )
    record_drift_metrics(metrics, summary)
    decision = summary.get("decision") or {}
    logger.info(
        "drift check finished",
        extra={"run_id": summary["run_id"], "retraining": summary["retraining"]},
    )
    return {
        "run_id": summary["run_id"],
        "drifted": decision.get("drifted", False),
        "reason": decision.get("reason", summary["retraining"]["reason"]),
        "retraining": summary["retraining"],
        "summary": summary["report"],
    }
