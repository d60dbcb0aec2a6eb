"""Serve handler: the pricing API behind API Gateway's Lambda proxy integration."""

import json
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()

NO_MODEL_MESSAGE = "no model promoted yet"


def _json_response(status: HTTPStatus, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "statusCode": int(status),
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@event_source(data_class=APIGatewayProxyEvent)
def lambda_handler(event: APIGatewayProxyEvent, context: LambdaContext) -> dict[str, Any]:
    """Return 200 for GET /health and 503 for every other route until a model is promoted."""
    # TODO: route the requests to a FastAPI app wrapped by Mangum that loads the production ONNX
    # model once per container, predicts with onnxruntime and writes an audit record per prediction.
    if event.http_method == "GET" and event.path == "/health":
        return _json_response(HTTPStatus.OK, {"status": "ok"})

    logger.info("no model to serve", extra={"method": event.http_method, "path": event.path})
    return _json_response(HTTPStatus.SERVICE_UNAVAILABLE, {"message": NO_MODEL_MESSAGE})
