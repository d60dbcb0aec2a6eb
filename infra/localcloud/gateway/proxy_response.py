"""HTTP responses: from a Lambda proxy integration's result, and the gateway's own errors."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from infra.localcloud.gateway.errors import GatewayError

# The fields a proxy integration's result may have; any other field makes it malformed.
PROXY_RESPONSE_FIELDS = frozenset(
    {"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"}
)
# Headers of a function's response that the server sets itself or that end at one hop.
SERVER_HEADERS = frozenset(
    {
        "connection",
        "content-length",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
DEFAULT_CONTENT_TYPE = "application/json"
# NOTE: AWS sent "text; charset=utf-8" with its plain-text 413, which is not a valid media
# type, so the gateway sends text/plain instead.
PLAIN_TEXT_CONTENT_TYPE = "text/plain; charset=utf-8"


@dataclass(frozen=True)
class HttpResponse:
    """A status code, headers in order, and the body."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


class MalformedProxyResponseError(ValueError):
    """A proxy integration result that API Gateway would reject with a 502."""


def parse_proxy_response(payload: bytes, binary_response: bool) -> HttpResponse:
    """Turn a function's result into the HTTP response, or raise MalformedProxyResponseError.

    No field is required: the status defaults to 200 and Content-Type to application/json.
    A base64 body (isBase64Encoded) is decoded only for a `binary_response`, that is when
    the request's first Accept type is one of the API's binaryMediaTypes. Otherwise the
    client receives the base64 text, as from API Gateway.
    """
    try:
        result = json.loads(payload)
    except ValueError as error:
        raise MalformedProxyResponseError(f"result is not JSON: {error}") from None
    if not isinstance(result, dict):
        raise MalformedProxyResponseError(f"result is a {type(result).__name__}, not an object")
    unknown = sorted(set(result) - PROXY_RESPONSE_FIELDS)
    if unknown:
        raise MalformedProxyResponseError(
            f"result has fields {unknown}; a proxy response may only have "
            f"{sorted(PROXY_RESPONSE_FIELDS)}"
        )

    status = _status_code(result.get("statusCode", 200))
    headers = _merged_headers(result.get("headers"), result.get("multiValueHeaders"))
    body = _body(result.get("body"), result.get("isBase64Encoded", False), binary_response)
    if not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", DEFAULT_CONTENT_TYPE))
    return HttpResponse(status, headers, body)


def error_response(error: GatewayError) -> HttpResponse:
    """Return the response API Gateway sends for one of its own errors."""
    if error.plain_text:
        body = error.message.encode()
        headers = [("Content-Type", PLAIN_TEXT_CONTENT_TYPE)]
    else:
        body = json.dumps({"message": error.message}).encode()
        headers = [("Content-Type", DEFAULT_CONTENT_TYPE)]
    if error.error_type is not None:
        headers.append(("x-amzn-ErrorType", error.error_type))
    return HttpResponse(error.status, headers, body)


def _status_code(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise MalformedProxyResponseError(f"statusCode {value!r} is not an integer")
    try:
        status = int(value)
    except ValueError:
        raise MalformedProxyResponseError(f"statusCode {value!r} is not an integer") from None
    if not 100 <= status <= 599:
        raise MalformedProxyResponseError(f"statusCode {status} is not between 100 and 599")
    return status


def _header_value(name: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if not isinstance(value, str):
        raise MalformedProxyResponseError(
            f"header {name} has the value {value!r}; header values must be strings"
        )
    if any(character in name + value for character in "\r\n"):
        raise MalformedProxyResponseError(f"header {name!r} contains a line break")
    return value


def _merged_headers(headers: Any, multi_value_headers: Any) -> list[tuple[str, str]]:
    """Merge headers and multiValueHeaders. A name in both keeps only its multiple values."""
    for field_name, value in (("headers", headers), ("multiValueHeaders", multi_value_headers)):
        if value is not None and not isinstance(value, dict):
            raise MalformedProxyResponseError(f"{field_name} is a {type(value).__name__}")
    multi_value_headers = multi_value_headers or {}
    in_multi = {name.lower() for name in multi_value_headers}

    merged: list[tuple[str, str]] = []
    for name, value in (headers or {}).items():
        if name.lower() not in in_multi:
            merged.append((name, _header_value(name, value)))
    for name, values in multi_value_headers.items():
        if not isinstance(values, list):
            values = [values]
        merged.extend((name, _header_value(name, value)) for value in values)
    return [(name, value) for name, value in merged if name.lower() not in SERVER_HEADERS]


def _body(body: Any, is_base64: Any, binary_response: bool) -> bytes:
    if body is None:
        return b""
    if not isinstance(body, str):
        raise MalformedProxyResponseError(
            f"body is a {type(body).__name__}; it must be a string (serialize JSON first)"
        )
    if not isinstance(is_base64, bool):
        raise MalformedProxyResponseError(f"isBase64Encoded {is_base64!r} is not a boolean")
    if not (is_base64 and binary_response):
        return body.encode("utf-8")
    try:
        return base64.b64decode(body, validate=True)
    except binascii.Error as error:
        raise MalformedProxyResponseError(f"body is not valid base64: {error}") from None
