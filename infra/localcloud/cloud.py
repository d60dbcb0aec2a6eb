"""The services of one running local cloud, shared by the moto hooks and the HTTP edge."""

from __future__ import annotations

import json
import logging
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.config import Config

from infra.localcloud.config import ACCOUNT_ID, CLIENT_ENVIRONMENT, REGION, CloudSettings
from infra.localcloud.functions import FunctionCodeCache
from infra.localcloud.runtime.pool import Runtime
from infra.localcloud.runtime.spec import FunctionSpec

logger = logging.getLogger(__name__)


class LocalCloud:
    """Runs functions for moto's Lambda and delivers events from S3, EventBridge and schedules."""

    def __init__(self, settings: CloudSettings) -> None:
        self.settings = settings
        self.base_environment = {
            **CLIENT_ENVIRONMENT,
            "AWS_ENDPOINT_URL": settings.endpoint_url,
            "MLFLOW_TRACKING_URI": settings.mlflow_url,
            "MLFLOW_S3_ENDPOINT_URL": settings.endpoint_url,
        }
        self.runtime = Runtime(
            settings.log_dir / "functions",
            self.base_environment,
            async_retry_delays_s=settings.async_retry_delays_s,
            log_sink=self._ship_logs,
        )
        self.code_cache = FunctionCodeCache(settings.state_dir)
        # Deliveries run off the request thread, so that an upload returns before its
        # function starts, as S3 notifications do.
        self._deliveries = ThreadPoolExecutor(max_workers=4, thread_name_prefix="delivery")
        self._log_streams: set[tuple[str, str]] = set()

    def function_spec(self, function_name_or_arn: str) -> FunctionSpec:
        """Return the runtime spec of a function that moto stores; raise if it is unknown."""
        from moto.awslambda.utils import get_backend

        function = get_backend(ACCOUNT_ID, REGION).get_function(function_name_or_arn)
        return self.code_cache.spec_for(function)

    def invoke_async(self, function_arn: str, event: dict[str, Any], source: str) -> None:
        """Queue an asynchronous invocation (Lambda's InvocationType=Event) of a function."""
        self._deliveries.submit(self._invoke_async, function_arn, event, source)

    def start_execution(self, state_machine_arn: str, payload: str, source: str) -> None:
        """Start a state machine execution through the Step Functions API."""
        self._deliveries.submit(self._start_execution, state_machine_arn, payload, source)

    def client(self, service: str) -> Any:
        """Return a boto3 client for this cloud's own endpoint."""
        return boto3.client(
            service,
            endpoint_url=self.settings.endpoint_url,
            region_name=REGION,
            aws_access_key_id=CLIENT_ENVIRONMENT["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CLIENT_ENVIRONMENT["AWS_SECRET_ACCESS_KEY"],
            config=Config(retries={"max_attempts": 3, "mode": "standard"}),
        )

    def shutdown(self) -> None:
        self._deliveries.shutdown(wait=True, cancel_futures=False)
        self.runtime.shutdown()

    def _invoke_async(self, function_arn: str, event: dict[str, Any], source: str) -> None:
        try:
            spec = self.function_spec(function_arn)
            request_id = self.runtime.invoke_async(spec, json.dumps(event).encode())
        except Exception:
            logger.exception("delivery from %s to function %s failed", source, function_arn)
            return
        logger.info("queued %s event for %s, request %s", source, spec.function_name, request_id)

    def _start_execution(self, state_machine_arn: str, payload: str, source: str) -> None:
        try:
            # moto 5.2.5 names an unnamed execution "None", so a second one would collide.
            response = self.client("stepfunctions").start_execution(
                stateMachineArn=state_machine_arn, name=str(uuid.uuid4()), input=payload
            )
        except Exception:
            logger.exception("%s could not start an execution of %s", source, state_machine_arn)
            return
        logger.info("%s started execution %s", source, response["executionArn"])

    def _ship_logs(self, spec: FunctionSpec, request_id: str, lines: list[str]) -> None:
        """Copy an invocation's log lines to CloudWatch Logs, /aws/lambda/FUNCTION."""
        from moto.logs.exceptions import ResourceAlreadyExistsException
        from moto.logs.models import logs_backends

        backend = logs_backends[ACCOUNT_ID][REGION]
        group = f"/aws/lambda/{spec.function_name}"
        stream = f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{spec.revision}"
        # Creating them once is enough; moto's "already exists" errors cost about 0.2 ms each.
        if (group, stream) not in self._log_streams:
            if group not in backend.groups:
                try:
                    backend.create_log_group(group, {})
                except ResourceAlreadyExistsException:
                    pass
            try:
                backend.create_log_stream(group, stream)
            except ResourceAlreadyExistsException:
                pass
            self._log_streams.add((group, stream))
        now_ms = int(time.time() * 1000)
        events = [{"timestamp": now_ms, "message": line} for line in lines if line]
        if events:
            backend.put_log_events(group, stream, events)
