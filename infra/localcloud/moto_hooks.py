"""The places where the local cloud takes over from moto, pinned to moto's exact version.

moto 5.2.5 runs Lambda functions only in Docker, sends S3 notifications synchronously inside
PutObject with keys encoded differently from S3, and cannot deliver EventBridge events to
Lambda or Step Functions. None of these has a public hook, so each is replaced here; the
integration tests cover every one, and `install` refuses any other moto version.
"""

from __future__ import annotations

import base64
import json
import logging
import uuid
from typing import Any

import moto
from moto.awslambda.models import LambdaFunction
from moto.core.exceptions import JsonRESTError
from moto.events.models import Rule
from moto.s3 import notifications
from moto.stepfunctions.models import StepFunctionBackend
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

from infra.localcloud import eventbridge, s3_events
from infra.localcloud.cloud import LocalCloud
from infra.localcloud.runtime.errors import (
    InvalidRequestContentError,
    RequestTooLargeError,
    TooManyRequestsError,
)

logger = logging.getLogger(__name__)

PINNED_MOTO_VERSION = "5.2.5"
# Lambda returns the last 4 KB of an invocation's log in X-Amz-Log-Result.
LOG_RESULT_MAX_BYTES = 4096


class InvalidRequestContentException(JsonRESTError):
    """Lambda's 400 error for an event that is not JSON."""

    code = 400

    def __init__(self, message: str) -> None:
        super().__init__("InvalidRequestContentException", message)


class RequestTooLargeException(JsonRESTError):
    """Lambda's 413 error for an event over its payload limit."""

    code = 413

    def __init__(self, message: str) -> None:
        super().__init__("RequestTooLargeException", message)


class TooManyRequestsException(JsonRESTError):
    """Lambda's 429 error when a function's reserved concurrency is exhausted."""

    code = 429

    def __init__(self, function_name: str) -> None:
        super().__init__("TooManyRequestsException", "Rate Exceeded.")
        self.description = json.dumps(
            {
                "__type": "TooManyRequestsException",
                "message": "Rate Exceeded.",
                "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded",
                "Type": "User",
            }
        )
        logger.warning("invocation of %s throttled: reserved concurrency exhausted", function_name)


def install(cloud: LocalCloud) -> None:
    """Route moto's Lambda invocations, S3 notifications and rule targets to the local cloud."""
    if moto.__version__ != PINNED_MOTO_VERSION:
        raise RuntimeError(
            f"moto {moto.__version__} is installed, but the local cloud's hooks are written for "
            f"moto {PINNED_MOTO_VERSION}; install moto=={PINNED_MOTO_VERSION}"
        )
    original_send_to_targets = Rule.send_to_targets

    def invoke(self: LambdaFunction, body: Any, request_headers: Any, response_headers: Any):
        return _invoke(cloud, self, body, request_headers, response_headers)

    def send_event(account_id: str, event_name: Any, bucket: Any, key: Any) -> None:
        _send_s3_event(cloud, event_name, bucket, key)

    def send_to_targets(self: Rule, original_event: dict[str, Any], transform_input=True) -> None:
        _send_to_targets(cloud, original_send_to_targets, self, original_event, transform_input)

    LambdaFunction.invoke = invoke
    for backend_class in (StepFunctionBackend, StepFunctionsParserBackend):
        backend_class.start_execution = _name_unnamed_executions(backend_class.start_execution)
    notifications.send_event = send_event
    Rule.send_to_targets = send_to_targets


def _name_unnamed_executions(start_execution: Any) -> Any:
    """Give an execution started without a name a UUID, as Step Functions does.

    moto names it "None", so the second unnamed execution fails with ExecutionAlreadyExists.
    """

    def start(self: Any, state_machine_arn: str, name: str | None = None, *args, **kwargs):
        return start_execution(self, state_machine_arn, name or str(uuid.uuid4()), *args, **kwargs)

    return start


def _header(headers: Any, name: str, default: str) -> str:
    if not headers:
        return default
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return default


def _invoke(
    cloud: LocalCloud,
    function: LambdaFunction,
    body: Any,
    request_headers: Any,
    response_headers: dict[str, str],
) -> bytes:
    payload = body.encode() if isinstance(body, str) else (body or b"")
    spec = cloud.code_cache.spec_for(function)
    invocation_type = _header(request_headers, "x-amz-invocation-type", "RequestResponse")
    if invocation_type == "DryRun":
        return b""
    try:
        if invocation_type == "Event":
            cloud.runtime.invoke_async(spec, payload or b"{}")
            return b""
        result = cloud.runtime.invoke(spec, payload or b"{}")
    except TooManyRequestsError:
        raise TooManyRequestsException(spec.function_name) from None
    except InvalidRequestContentError as error:
        raise InvalidRequestContentException(str(error)) from None
    except RequestTooLargeError as error:
        raise RequestTooLargeException(str(error)) from None
    if result.function_error:
        response_headers["x-amz-function-error"] = result.function_error
    log_tail = result.log_result.encode()[-LOG_RESULT_MAX_BYTES:]
    response_headers["x-amz-log-result"] = base64.b64encode(log_tail).decode()
    response_headers["x-amz-executed-version"] = "$LATEST"
    return result.payload


def _send_s3_event(cloud: LocalCloud, event_name: Any, bucket: Any, key: Any) -> None:
    configuration = bucket.notification_configuration
    if configuration is None:
        return
    name = str(getattr(event_name, "value", event_name))
    if name == "s3:ObjectCreated:Put" and getattr(key, "multipart", None) is not None:
        # moto's CompleteMultipartUpload stores the object with PutObject and then sends its
        # own event; S3 sends only the CompleteMultipartUpload one.
        return
    for notification in configuration.cloud_function:
        if not notification.matches(name, key.name):
            continue
        # The record is built now, so it describes this version even if the key changes again.
        record = s3_events.object_created_record(
            event_name=name.removeprefix("s3:"),
            bucket_name=bucket.name,
            bucket_arn=bucket.arn,
            region=bucket.region_name,
            configuration_id=notification.id,
            key=key.name,
            size=key.size,
            etag=key.etag,
            version_id=key.version_id if bucket.is_versioned else None,
        )
        cloud.invoke_async(notification.arn, {"Records": [record]}, f"s3://{bucket.name}")
    if configuration.queue or configuration.topic:
        logger.warning(
            "bucket %s notifies SQS or SNS; the local cloud delivers only to Lambda", bucket.name
        )


def _send_to_targets(
    cloud: LocalCloud,
    original: Any,
    rule: Rule,
    event: dict[str, Any],
    transform_input: bool,
) -> None:
    if not rule.event_pattern.get_pattern():
        # A rule without an event pattern is a schedule: events sent to its bus never match it.
        return
    if not rule.event_pattern.matches_event(event):
        return
    local_targets = [t for t in rule.targets if t["Arn"].split(":")[2] in ("lambda", "states")]
    for target in local_targets:
        if transform_input and "InputTransformer" in target:
            from moto.events.utils import EventTemplateParser

            transformer = target["InputTransformer"]
            transformed = EventTemplateParser.parse(
                input_template=transformer.get("InputTemplate"),
                input_paths_map=transformer.get("InputPathsMap", {}),
                event=event,
            )
            payload = json.dumps(transformed)
        else:
            payload = eventbridge.rule_target_payload(target, event)
        eventbridge.deliver(cloud, target, payload, f"rule {rule.name}")
    other_targets = [t for t in rule.targets if t not in local_targets]
    if other_targets:
        # moto delivers to logs, SQS and event buses itself.
        all_targets = rule.targets
        rule.targets = other_targets
        try:
            original(rule, event, transform_input)
        finally:
            rule.targets = all_targets
