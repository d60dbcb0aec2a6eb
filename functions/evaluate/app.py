"""Evaluate handler: the training pipeline's champion/challenger comparison."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.utilities.typing import LambdaContext
from mhpe.pipeline.evaluate import run_evaluate_step
from mhpe.pipeline.settings import PipelineResources, load_pipeline_settings
from mhpe.pipeline.state import PipelineState
from mhpe.storage import ObjectStore

logger = Logger()
copy_config_to_registered_loggers(source_logger=logger, include={"mhpe"})

STEP = "evaluate"
_store = ObjectStore()


# The pipeline's first state copies the execution ARN to execution.arn.
@logger.inject_lambda_context(correlation_id_path="execution.arn")
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Return `promote` = true only when the challenger beats the champion (or the baseline)."""
    state = PipelineState.model_validate(event)
    result = run_evaluate_step(
        state,
        settings=load_pipeline_settings(),
        resources=PipelineResources.from_environment(),
        store=_store,
    )
    logger.info(
        "challenger evaluated",
        extra={"step": STEP, "promote": result["promote"], "reason": result["reason"]},
    )
    return {"step": STEP, **result}
