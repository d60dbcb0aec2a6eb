"""The Lambda proxy integration (AWS_PROXY): run the function on the local cloud's runtime.

Errors follow API Gateway. When Lambda rejects the invocation (unknown function, reserved
concurrency exhausted), the client gets 500, or 413 when the event is over Lambda's 6 MB
payload limit. When the function raises, times out or returns a malformed result, the
client gets 502, and when the integration outlasts its timeoutInMillis, 504.
"""

from __future__ import annotations

import json
import logging
import re
import time
from typing import Any

from moto.awslambda.exceptions import LambdaClientError

from infra.localcloud.gateway.errors import (
    BadGatewayError,
    GatewayConfigurationError,
    IntegrationPayloadTooLargeError,
    IntegrationRejectedError,
    IntegrationTimeoutError,
)
from infra.localcloud.gateway.routes import IntegrationConfig
from infra.localcloud.runtime.errors import (
    InvalidRequestContentError,
    RequestTooLargeError,
    RuntimeShutdownError,
    TooManyRequestsError,
)

logger = logging.getLogger(__name__)

LAMBDA_PROXY = "AWS_PROXY"
# arn:aws:apigateway:REGION:lambda:path/2015-03-31/functions/FUNCTION_ARN/invocations
LAMBDA_INVOCATION_URI = re.compile(
    r"^arn:aws[a-z-]*:apigateway:[^:]*:lambda:path/[^/]+/functions/(?P<function>.+)/invocations$"
)
STAGE_VARIABLE = re.compile(r"\$\{stageVariables\.(?P<name>[A-Za-z0-9_]+)\}")
# The first characters of a function error that the log keeps.
MAX_LOGGED_ERROR_CHARS = 300


class LambdaProxyIntegration:
    """Invokes a method's function through `cloud.runtime` with a proxy event."""

    def __init__(self, cloud: Any) -> None:
        self._cloud = cloud

    def invoke(
        self, integration: IntegrationConfig, event: dict[str, Any], stage_variables: dict[str, str]
    ) -> bytes:
        """Run the function synchronously and return its result payload."""
        function = self.function_name(integration, stage_variables)
        try:
            spec = self._cloud.function_spec(function)
        except LambdaClientError as error:
            raise IntegrationRejectedError(f"function {function} not found: {error}") from None

        started_s = time.monotonic()
        try:
            result = self._cloud.runtime.invoke(spec, json.dumps(event).encode())
        except TooManyRequestsError as error:
            raise IntegrationRejectedError(f"Lambda throttled the invocation: {error}") from None
        except RequestTooLargeError as error:
            raise IntegrationPayloadTooLargeError(
                f"Lambda rejected the invocation of {spec.function_name}: {error}"
            ) from None
        except (InvalidRequestContentError, RuntimeShutdownError) as error:
            raise IntegrationRejectedError(
                f"Lambda rejected the invocation of {spec.function_name}: {error}"
            ) from None
        elapsed_ms = (time.monotonic() - started_s) * 1000

        # NOTE: the runtime cannot stop an invocation, so the client gets its 504 when the
        # function ends, not at timeoutInMillis as on AWS.
        if elapsed_ms > integration.timeout_ms:
            raise IntegrationTimeoutError(
                f"function {spec.function_name} ran {elapsed_ms:.0f} ms, longer than the "
                f"integration timeout of {integration.timeout_ms} ms"
            )
        if result.function_error:
            raise BadGatewayError(
                f"function {spec.function_name} failed (Lambda request {result.request_id}): "
                f"{result.payload[:MAX_LOGGED_ERROR_CHARS].decode('utf-8', 'replace')}"
            )
        return result.payload

    @staticmethod
    def function_name(integration: IntegrationConfig, stage_variables: dict[str, str]) -> str:
        """Return the function ARN of a Lambda proxy integration, with stage variables filled in.

        Raise GatewayConfigurationError for any other integration, as the local cloud runs only
        Lambda proxy integrations.
        """
        if integration.type != LAMBDA_PROXY:
            raise GatewayConfigurationError(
                f"integration type {integration.type} is not supported locally; "
                f"only {LAMBDA_PROXY} (Lambda proxy) runs"
            )
        if integration.http_method != "POST":
            raise GatewayConfigurationError(
                f"integration httpMethod {integration.http_method} is invalid: Lambda is "
                "invoked with POST, so set integrationHttpMethod=POST"
            )
        uri = integration.uri
        if "${" in uri:
            uri = STAGE_VARIABLE.sub(lambda match: stage_variables.get(match["name"], ""), uri)
        match = LAMBDA_INVOCATION_URI.match(uri)
        if match is None:
            raise GatewayConfigurationError(
                f"integration URI {uri} is not a Lambda invocation URI "
                "(arn:aws:apigateway:REGION:lambda:path/2015-03-31/functions/ARN/invocations)"
            )
        return match["function"]
