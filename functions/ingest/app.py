"""Ingest handler: receives S3 ObjectCreated notifications for batches in the raw bucket."""

from typing import Any
from urllib.parse import unquote_plus

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.utilities.data_classes import S3Event, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext
from mhpe.exceptions import ConfigError
from mhpe.pipeline.ingest import ingest_batch
from mhpe.pipeline.settings import PipelineResources
from mhpe.pipeline.state import BatchRef
from mhpe.storage import ObjectStore

logger = Logger()
copy_config_to_registered_loggers(source_logger=logger, include={"mhpe"})

_store = ObjectStore()
_stepfunctions = boto3.client("stepfunctions")


@logger.inject_lambda_context
@event_source(data_class=S3Event)
def lambda_handler(event: S3Event, context: LambdaContext) -> dict[str, Any]:
    """Start one pipeline execution per usable batch and quarantine the unusable ones.

    S3 sends keys URL-encoded (a space arrives as "+"), so the key is decoded here.
    """
    resources = PipelineResources.from_environment()
    if resources.training_pipeline_arn is None:
        raise ConfigError("TRAINING_PIPELINE_ARN is not set; template.yaml sets it for ingest")

    outcomes = []
    for record in event.records:
        s3_object = record.s3.get_object
        batch = BatchRef(
            bucket=record.s3.bucket.name,
            key=unquote_plus(s3_object.key),
            version_id=s3_object.version_id,
            etag=s3_object.get("eTag"),
            size_bytes=s3_object.size,
            sequencer=s3_object.get("sequencer"),
        )
        logger.info(
            "batch uploaded",
            extra={
                "batch": batch.model_dump(),
                "s3_request_id": record.response_elements.get("x-amz-request-id"),
            },
        )
        outcome = ingest_batch(
            batch,
            store=_store,
            stepfunctions=_stepfunctions,
            state_machine_arn=resources.training_pipeline_arn,
            quarantine_bucket=resources.quarantine_bucket,
        )
        logger.info("batch ingested", extra={"outcome": outcome.to_dict()})
        outcomes.append(outcome.to_dict())

    return {"batches": outcomes}
