"""Promote handler: the training pipeline's step that moves the production alias."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()

STEP = "promote"


# The pipeline's first state copies the execution ARN to execution.arn.
@logger.inject_lambda_context(correlation_id_path="execution.arn")
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Return the step name and the state machine input unchanged."""
    # TODO: move the production alias in the model registry to the challenger and log the promotion
    # with both model versions.
    logger.info("step called", extra={"step": STEP})
    return {"step": STEP, "input": event}
