"""Validate handler: the training pipeline's quality gate 1 on one batch."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.utilities.typing import LambdaContext
from mhpe.config import load_quality_rules
from mhpe.pipeline.errors import PipelineInputError
from mhpe.pipeline.settings import PipelineResources
from mhpe.pipeline.state import PipelineState
from mhpe.pipeline.validate import validate_batch
from mhpe.storage import ObjectStore

logger = Logger()
copy_config_to_registered_loggers(source_logger=logger, include={"mhpe"})

STEP = "validate"
_store = ObjectStore()


# The pipeline's first state copies the execution ARN to execution.arn.
@logger.inject_lambda_context(correlation_id_path="execution.arn")
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Return `quality_gate.passed`, after quarantining a failed batch with its per-row report."""
    state = PipelineState.model_validate(event)
    if state.batch is None:
        raise PipelineInputError("validate needs $.batch: the batch's bucket, key and version")
    resources = PipelineResources.from_environment()

    result = validate_batch(
        state.batch,
        store=_store,
        rules=load_quality_rules(),
        curated_bucket=resources.curated_bucket,
        quarantine_bucket=resources.quarantine_bucket,
    )
    logger.info(
        "quality gate checked", extra={"step": STEP, "quality_gate": result["quality_gate"]}
    )
    return {"step": STEP, **result}
