"""Request metrics in CloudWatch embedded metric format (EMF), through Powertools Metrics.

Per request, with the dimension `route`: Requests (count), Latency (milliseconds inside
the function, from the first ASGI byte to the response), Predictions (houses priced),
ClientErrors (4xx) and ServerErrors (5xx). Powertools prints them as one EMF line when the
handler's `log_metrics` decorator flushes. Model events of the background check
(ModelSwaps, ModelRejections, ModelCheckFailures) are printed at once with
`single_metric`, because they happen outside a request.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from aws_lambda_powertools import Metrics, single_metric
from aws_lambda_powertools.metrics import MetricUnit

logger = logging.getLogger(__name__)

NAMESPACE = "MHPE"
ROUTE_DIMENSION = "route"
OTHER_ROUTE = "other"
KNOWN_ROUTES = frozenset(
    {"/predict", "/predict/batch", "/health", "/model", "/docs", "/openapi.json"}
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class ServeMetrics:
    """Adds the serve function's metrics to a Powertools Metrics instance."""

    def __init__(self, metrics: Metrics, namespace: str = NAMESPACE) -> None:
        self._metrics = metrics
        self._namespace = namespace

    def record_request(self, route: str, status: int, latency_ms: float) -> None:
        self._metrics.add_dimension(
            ROUTE_DIMENSION, route if route in KNOWN_ROUTES else OTHER_ROUTE
        )
        self._metrics.add_metric(name="Requests", unit=MetricUnit.Count, value=1)
        self._metrics.add_metric(name="Latency", unit=MetricUnit.Milliseconds, value=latency_ms)
        if 400 <= status < 500:
            self._metrics.add_metric(name="ClientErrors", unit=MetricUnit.Count, value=1)
        elif status >= 500:
            self._metrics.add_metric(name="ServerErrors", unit=MetricUnit.Count, value=1)

    def record_predictions(self, count: int) -> None:
        self._metrics.add_metric(name="Predictions", unit=MetricUnit.Count, value=count)

    def record_model_event(self, event: str) -> None:
        """Print one count of a model event now; safe to call from any thread."""
        with single_metric(name=event, unit=MetricUnit.Count, value=1, namespace=self._namespace):
            pass


class RequestMetricsMiddleware:
    """ASGI middleware that times every HTTP request and records its status."""

    def __init__(self, app: AsgiApp, metrics: ServeMetrics) -> None:
        self.app = app
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        started = time.perf_counter()
        status = 500

        async def send_and_record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_record_status)
        finally:
            latency_ms = (time.perf_counter() - started) * 1000
            self._metrics.record_request(str(scope.get("path", "")), status, latency_ms)
