"""API Gateway's data plane for REST APIs that moto stores: routing, API keys, usage plans,
throttles, quotas and Lambda proxy integrations, at LocalStack-style invoke URLs.

The edge sends a path to `GatewayApp` when `matches(path)` is true. Serving it with
`request_handler.GatewayRequestHandler` keeps the request headers as sent, for the events.
"""

from infra.localcloud.gateway.app import GatewayApp
from infra.localcloud.gateway.invoke_url import matches

__all__ = ["GatewayApp", "matches"]
