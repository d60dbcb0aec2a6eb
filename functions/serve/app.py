"""Serve handler: the pricing API (FastAPI in mhpe.serving) behind API Gateway, via Mangum.

The champion model loads here, once per worker. Logs are Powertools JSON lines with the
API Gateway request id as correlation id; metrics are flushed as one EMF line per request.
"""

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.utilities.typing import LambdaContext
from mangum import Mangum
from mhpe.serving.assembly import build_serving
from mhpe.serving.settings import ServingSettings
from mhpe.serving.telemetry import NAMESPACE

logger = Logger()
metrics = Metrics(namespace=NAMESPACE)
# The mhpe package logs through the standard logging module; this gives its loggers the
# Powertools JSON format and correlation id.
copy_config_to_registered_loggers(source_logger=logger, include={"mhpe"})

serving = build_serving(ServingSettings.from_environment(), audit_log=logger, metrics=metrics)
asgi_handler = Mangum(serving.app, lifespan="off")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Handle one API Gateway REST (v1) proxy event and return the proxy response."""
    return asgi_handler(event, context)
