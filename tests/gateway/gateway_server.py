"""Run a local cloud whose edge sends invoke URLs to the gateway, for the gateway tests.

It wraps the server's WSGI app the way EdgeApp will route: a path that
`gateway.matches` accepts goes to GatewayApp, everything else to the edge as before.
Run with `python -m tests.gateway.gateway_server --state-dir DIR --port PORT --no-mlflow`.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable
from typing import Any

from infra.localcloud.gateway import GatewayApp, matches
from infra.localcloud.gateway.request_handler import GatewayRequestHandler
from infra.localcloud.server import LocalCloudServer, parse_args

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class GatewayDispatcher:
    """WSGI app: invoke URLs to the gateway, every other path to the edge."""

    def __init__(self, gateway: WsgiApp, edge: WsgiApp) -> None:
        self._gateway = gateway
        self._edge = edge

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        if matches(environ.get("PATH_INFO", "")):
            return self._gateway(environ, start_response)
        return self._edge(environ, start_response)


def main(argv: list[str]) -> None:
    settings = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        handlers=[logging.StreamHandler(sys.stderr)],
    )
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = LocalCloudServer(settings)
    server.http.app = GatewayDispatcher(GatewayApp(server.cloud), server.http.app)
    server.http.RequestHandlerClass = GatewayRequestHandler
    server.serve()


if __name__ == "__main__":
    main(sys.argv[1:])
