"""Start the training pipeline with `force` and the drift's reason."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

logger = logging.getLogger(__name__)

EXECUTION_NAME_PREFIX = "drift-"
_WINDOW_DIGITS = 16


def execution_name(window_id: str, now: datetime) -> str:
    """Name the execution for its time and window, e.g. "drift-20261204T170000-3fa2...".

    The name is at most 80 characters of the set Step Functions accepts, and the same window
    at the same time always gets the same name, so a retried check cannot start a second
    execution.
    """
    return f"{EXECUTION_NAME_PREFIX}{now:%Y%m%dT%H%M%S}-{window_id[:_WINDOW_DIGITS]}"


def start_retraining(
    stepfunctions: Any,
    state_machine_arn: str,
    *,
    name: str,
    reason: str,
    details: dict[str, Any],
) -> str:
    """Start a forced execution of the training pipeline; return its ARN.

    The input is `{"force": true, "reason": reason, "drift": details}`; the pipeline's train
    step records the reason as the run's trigger.
    """
    state = {"force": True, "reason": reason, "drift": details}
    response = stepfunctions.start_execution(
        stateMachineArn=state_machine_arn, name=name, input=json.dumps(state, default=str)
    )
    arn = str(response["executionArn"])
    logger.info("started retraining %s: %s", arn, reason)
    return arn
