"""Ingest handler: receives S3 ObjectCreated notifications for batches in the raw bucket."""

from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import S3Event, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()


@logger.inject_lambda_context
@event_source(data_class=S3Event)
def lambda_handler(event: S3Event, context: LambdaContext) -> dict[str, Any]:
    """Log and return the bucket, key, version id and size of every uploaded batch.

    S3 sends keys URL-encoded (a space arrives as "+"), so the key is decoded here.
    """
    # TODO: read each batch with mhpe.data.read_batch and start an execution of the training
    # pipeline (TRAINING_PIPELINE_ARN) with the batch's bucket, key and version id.
    batches: list[dict[str, Any]] = []
    for record in event.records:
        s3_object = record.s3.get_object
        batch = {
            "bucket": record.s3.bucket.name,
            "key": unquote_plus(s3_object.key),
            "version_id": s3_object.version_id,
            "size_bytes": s3_object.size,
        }
        logger.info(
            "batch uploaded",
            extra={
                "batch": batch,
                "s3_request_id": record.response_elements.get("x-amz-request-id"),
            },
        )
        batches.append(batch)

    return {"batches": batches}
