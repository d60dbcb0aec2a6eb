"""A request handler that keeps the raw request headers for the gateway's proxy events."""

from __future__ import annotations

from typing import Any

from moto.moto_server.werkzeug_app import MotoRequestHandler

from infra.localcloud.gateway.request import RAW_HEADERS_KEY


class GatewayRequestHandler(MotoRequestHandler):
    """moto's request handler, plus the headers as received under `RAW_HEADERS_KEY`.

    WSGI gives header names in upper case and joins a repeated header's values with commas.
    API Gateway's proxy event keeps the client's spelling and lists each value of a repeated
    header in `multiValueHeaders`, and that needs the headers before WSGI folds them.
    """

    def make_environ(self) -> dict[str, Any]:
        environ = super().make_environ()
        environ[RAW_HEADERS_KEY] = [
            (name, value.replace("\r\n", "")) for name, value in self.headers.items()
        ]
        return environ
