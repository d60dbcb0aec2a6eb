"""Validate handler: the training pipeline's quality gate 1 on one batch."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()

STEP = "validate"


# The pipeline's first state copies the execution ARN to execution.arn.
@logger.inject_lambda_context(correlation_id_path="execution.arn")
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Return the step name and the state machine input unchanged."""
    # TODO: check the batch with mhpe.quality.check_batch, copy an accepted batch to the curated
    # bucket, quarantine a rejected one with its per-row report, and return quality_gate.passed.
    logger.info("step called", extra={"step": STEP})
    return {"step": STEP, "input": event}
