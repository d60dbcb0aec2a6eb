"""Train handler: the training pipeline's step that trains a challenger model."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()

STEP = "train"


# The pipeline's first state copies the execution ARN to execution.arn.
@logger.inject_lambda_context(correlation_id_path="execution.arn")
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Return the step name and the state machine input unchanged."""
    # TODO: train the strategy from config/model.yaml with mhpe.training.train on the curated data,
    # log the run to MLflow and store the ONNX model in the models bucket.
    logger.info("step called", extra={"step": STEP})
    return {"step": STEP, "input": event}
