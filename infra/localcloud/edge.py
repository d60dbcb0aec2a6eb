"""The HTTP edge of the local cloud: control routes, then moto for every AWS API."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from infra.localcloud import custom_ids, eventbridge, gateway
from infra.localcloud.cloud import LocalCloud
from infra.localcloud.persistence import S3Snapshot

logger = logging.getLogger(__name__)

CONTROL_PREFIX = "/_mhpe/"
MUTATING_METHODS = frozenset({"PUT", "POST", "DELETE", "PATCH"})

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class EdgeApp:
    """WSGI app: API Gateway invoke URLs, `/_mhpe/...` control routes, then moto."""

    def __init__(
        self,
        moto_app: WsgiApp,
        cloud: LocalCloud,
        snapshot: S3Snapshot,
        status: Callable[[], dict[str, Any]],
    ) -> None:
        self._moto_app = moto_app
        self._cloud = cloud
        self._snapshot = snapshot
        self._status = status
        self._gateway = gateway.GatewayApp(cloud)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]):
        path = environ.get("PATH_INFO", "")
        if gateway.matches(path):
            return self._gateway(environ, start_response)
        if path.startswith(CONTROL_PREFIX):
            status, body = self._control(environ, path[len(CONTROL_PREFIX) :])
            return _json_response(start_response, status, body)
        if environ["REQUEST_METHOD"] in MUTATING_METHODS and _is_s3_request(environ):
            self._snapshot.mark_dirty()
        return self._moto_app(environ, start_response)

    def _control(self, environ: dict[str, Any], route: str) -> tuple[int, dict[str, Any]]:
        method = environ["REQUEST_METHOD"]
        parts = route.strip("/").split("/")
        if method == "GET" and parts == ["health"]:
            return 200, self._status()
        if method == "POST" and len(parts) == 3 and parts[0] == "schedules" and parts[2] == "fire":
            schedule = eventbridge.find_schedule(parts[1])
            if schedule is None:
                return 404, {"message": f"no enabled scheduled rule or schedule named {parts[1]}"}
            return 200, {"name": schedule.name, "targets": eventbridge.fire(self._cloud, schedule)}
        if method == "GET" and len(parts) == 2 and parts[0] == "functions":
            return 200, self._cloud.runtime.stats(parts[1])
        if method == "POST" and parts == ["next-ids"]:
            return _reserve_id(environ)
        return 404, {"message": f"no control route {method} {CONTROL_PREFIX}{route}"}


def _reserve_id(environ: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Reserve an id for the next resource of a name (an API key's name is its value)."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        request = json.loads(environ["wsgi.input"].read(length) or b"{}")
    except (ValueError, json.JSONDecodeError) as error:
        return 400, {"message": f"the request body must be a JSON object: {error}"}
    if not isinstance(request, dict):
        return 400, {"message": "the request body must be a JSON object"}
    try:
        reserved_id = custom_ids.reserve(request)
    except ValueError as error:
        return 400, {"message": str(error)}
    return 200, {"id": reserved_id}


def _is_s3_request(environ: dict[str, Any]) -> bool:
    authorization = environ.get("HTTP_AUTHORIZATION", "")
    query = environ.get("QUERY_STRING", "")
    return "/s3/aws4_request" in authorization or "%2Fs3%2Faws4_request" in query


def _json_response(start_response: Callable[..., Any], status: int, body: dict[str, Any]):
    data = json.dumps(body).encode()
    reasons = {200: "OK", 400: "Bad Request", 404: "Not Found", 500: "Internal Server Error"}
    reason = reasons.get(status, "")
    start_response(
        f"{status} {reason}",
        [("Content-Type", "application/json"), ("Content-Length", str(len(data)))],
    )
    return [data]
