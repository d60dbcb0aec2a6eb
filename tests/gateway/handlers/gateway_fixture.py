"""Lambda handlers behind the gateway tests. Each returns one kind of proxy response."""

import base64
import json
import os
import time

# The first bytes of a PNG file: not valid UTF-8, so they only travel as base64.
PNG_BYTES = b"\x89PNG\r\n\x1a\n\x00\xff"


def echo(event, context):
    """Return the proxy event as the JSON body, with single and repeated headers."""
    return {
        "statusCode": 200,
        "headers": {"X-Echo": "yes", "X-Flag": True},
        "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]},
        "body": json.dumps({"event": event}),
    }


def fail(event, context):
    raise ValueError("planned failure behind the gateway")


def malformed(event, context):
    """Return a body that is an object, not a string: API Gateway rejects it."""
    return {"statusCode": 200, "body": {"not": "a string"}}


def binary(event, context):
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "image/png"},
        "body": base64.b64encode(PNG_BYTES).decode(),
        "isBase64Encoded": True,
    }


def slow(event, context):
    time.sleep(float(os.environ.get("SLEEP_S", "0.6")))
    return {"statusCode": 200, "body": "late"}


def teapot(event, context):
    """Return a status and a text body, with no Content-Type of its own."""
    return {"statusCode": "418", "body": "short and stout"}
