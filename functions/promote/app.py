"""Promote handler: moves the champion alias and publishes the model for serving."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.utilities.typing import LambdaContext
from mhpe.pipeline.promote import run_promote_step
from mhpe.pipeline.settings import PipelineResources, load_pipeline_settings
from mhpe.pipeline.state import PipelineState
from mhpe.storage import ObjectStore

logger = Logger()
copy_config_to_registered_loggers(source_logger=logger, include={"mhpe"})

STEP = "promote"
_store = ObjectStore()


# The pipeline's first state copies the execution ARN to execution.arn.
@logger.inject_lambda_context(correlation_id_path="execution.arn")
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Return the promoted version and where its ONNX file and manifest were written."""
    state = PipelineState.model_validate(event)
    result = run_promote_step(
        state,
        settings=load_pipeline_settings(),
        resources=PipelineResources.from_environment(),
        store=_store,
    )
    logger.info(
        "challenger promoted",
        extra={"step": STEP, "model_version": result["model_version"]},
    )
    return {"step": STEP, **result}
