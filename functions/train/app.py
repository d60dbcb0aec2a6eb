"""Train handler: the training pipeline's step that trains and registers a challenger."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.utilities.typing import LambdaContext
from mhpe.pipeline.settings import PipelineResources, load_pipeline_settings
from mhpe.pipeline.state import ClaimRelease, PipelineState
from mhpe.pipeline.train import run_release_step, run_train_step
from mhpe.storage import ObjectStore

logger = Logger()
copy_config_to_registered_loggers(source_logger=logger, include={"mhpe"})

STEP = "train"
_store = ObjectStore()


# The pipeline's first state copies the execution ARN to execution.arn.
@logger.inject_lambda_context(correlation_id_path="execution.arn")
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Return `trained` and, when a challenger was trained, its version, run and metrics.

    An event with `release_claim` comes from the state machine's Train Catch path and only
    releases the failed execution's claim on the training ledger.
    """
    if event.get("release_claim"):
        request = ClaimRelease.model_validate(event)
        released = run_release_step(
            request, resources=PipelineResources.from_environment(), store=_store
        )
        logger.info("training claim released", extra={"step": STEP, **released})
        return {"step": STEP, **released}

    state = PipelineState.model_validate(event)
    result = run_train_step(
        state,
        settings=load_pipeline_settings(),
        resources=PipelineResources.from_environment(),
        store=_store,
    )
    logger.info(
        "train step finished",
        extra={"step": STEP, "trained": result["trained"], "reason": result["reason"]},
    )
    return {"step": STEP, **result}
