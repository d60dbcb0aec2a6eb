"""Drift handler, invoked by the EventBridge drift schedule."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE)
@event_source(data_class=EventBridgeEvent)
def lambda_handler(event: EventBridgeEvent, context: LambdaContext) -> dict[str, Any]:
    """Return that drift is not evaluated yet."""
    # TODO: compare recent requests and labelled batches with the training reference and start a
    # retraining execution when the drift share exceeds 20 % of features or price per sqft shifts.
    logger.info(
        "drift check scheduled", extra={"scheduled_at": event.time, "rules": event.resources}
    )
    return {"drift": "not yet evaluated"}
