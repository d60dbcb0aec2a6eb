"""Evaluate handler: the training pipeline's champion/challenger comparison."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()

STEP = "evaluate"


# The pipeline's first state copies the execution ARN to execution.arn.
@logger.inject_lambda_context(correlation_id_path="execution.arn")
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Return the step name and the state machine input unchanged."""
    # TODO: score the challenger and the production champion on the same holdout, write the
    # report to the reports bucket, and return promote = true only when the challenger's RMSE
    # is lower.
    logger.info("step called", extra={"step": STEP})
    return {"step": STEP, "input": event}
