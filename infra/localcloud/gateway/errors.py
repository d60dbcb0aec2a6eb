"""The error responses that API Gateway itself sends, one exception class per gateway response.

Each class carries the status code, the JSON message and the `x-amzn-ErrorType` header that
AWS sends for that case. `reason` is the detail for the local log, which the client never
sees.
"""

from __future__ import annotations


class GatewayError(Exception):
    """A request that the gateway responds to itself, without a function's response."""

    status = 500
    message = "Internal server error"
    # None where the value that AWS sends is not known.
    error_type: str | None = "InternalServerErrorException"
    # True where AWS sends the message as plain text instead of {"message": ...}.
    plain_text = False

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class MissingAuthenticationTokenError(GatewayError):
    """No resource and method of the deployment match the request (AWS sends 403, not 404)."""

    status = 403
    message = "Missing Authentication Token"
    error_type = "MissingAuthenticationTokenException"


class ForbiddenError(GatewayError):
    """A missing, unknown or disabled API key, or a stage that does not exist."""

    status = 403
    message = "Forbidden"
    error_type = "ForbiddenException"


class TooManyRequestsError(GatewayError):
    """A usage plan or stage throttle has no token left for the request."""

    status = 429
    message = "Too Many Requests"
    error_type = "TooManyRequestsException"


class LimitExceededError(GatewayError):
    """The API key used up its usage plan's quota for the current period."""

    status = 429
    message = "Limit Exceeded"
    error_type = "LimitExceededException"


class RequestTooLongError(GatewayError):
    """A request body over API Gateway's 10 MB payload quota, rejected before any integration.

    AWS returned this plain-text message, without an error type, for a body over the quota,
    as recorded in 2021 from an edge-optimized REST API.
    """

    status = 413
    message = "HTTP content length exceeded 10485760 bytes."
    error_type = None
    plain_text = True


class IntegrationPayloadTooLargeError(GatewayError):
    """A proxy event over Lambda's 6 MB invocation payload limit (Lambda's 413).

    API Gateway passes Lambda's 413 on with this message and error type, as recorded from a
    REST API with a Lambda proxy integration in 2021.
    """

    status = 413
    message = "Request Too Long"
    error_type = "BadRequestException"


class IntegrationRejectedError(GatewayError):
    """Lambda rejected the invocation (throttled, unknown function), so AWS returns 500."""

    status = 500


class BadGatewayError(GatewayError):
    """The function raised, timed out or returned a malformed proxy response: AWS returns 502."""

    status = 502


class IntegrationTimeoutError(GatewayError):
    """The integration ran longer than its timeoutInMillis."""

    status = 504
    message = "Endpoint request timed out"
    error_type = None


class GatewayConfigurationError(GatewayError):
    """A stored setting that the gateway cannot use, such as an unsupported integration type."""

    status = 500
