"""The parts of an HTTP request that the gateway reads, taken from a WSGI environ."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from infra.localcloud.gateway.errors import RequestTooLongError
from infra.localcloud.gateway.invoke_url import InvokeTarget

# Set by GatewayRequestHandler: the request's headers as received, names in their original
# case and repeated headers kept apart. WSGI itself joins repeats with commas.
RAW_HEADERS_KEY = "mhpe.raw_headers"
# WSGI moves these two headers out of the HTTP_ namespace.
UNPREFIXED_HEADERS = {"CONTENT_TYPE": "Content-Type", "CONTENT_LENGTH": "Content-Length"}
# API Gateway's quota on a REST API request payload, 10 MB, which AWS does not raise.
MAX_BODY_BYTES = 10 * 1024 * 1024
READ_CHUNK_BYTES = 1024 * 1024


@dataclass(frozen=True)
class GatewayRequest:
    """One request to an API stage: method, raw path, query string, headers and body."""

    method: str
    path: str
    query_string: str
    headers: list[tuple[str, str]]
    body: bytes
    source_ip: str
    protocol: str
    _lowercase: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # The last value of a repeated header wins, as in the proxy event's `headers`.
        object.__setattr__(self, "_lowercase", {k.lower(): v for k, v in self.headers})

    def header(self, name: str) -> str | None:
        """Return a header's last value, looked up without regard to case."""
        return self._lowercase.get(name.lower())


def read_request(environ: dict[str, Any], target: InvokeTarget) -> GatewayRequest:
    """Read the method, headers and body of a WSGI request to `target`.

    Raises RequestTooLongError for a body over MAX_BODY_BYTES, after reading it to its end
    without keeping it, so that the connection stays usable for the 413.
    """
    return GatewayRequest(
        method=environ["REQUEST_METHOD"].upper(),
        path=target.path,
        query_string=environ.get("QUERY_STRING", ""),
        headers=_headers(environ),
        body=_body(environ),
        source_ip=environ.get("REMOTE_ADDR", "127.0.0.1"),
        protocol=environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
    )


def parse_query_string(query_string: str) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Split a query string into last values and all values per name, percent-decoded.

    A name without "=" gets the value "". A "+" stays a "+".
    """
    # NOTE: AWS does not document whether API Gateway turns "+" into a space in
    # queryStringParameters. This keeps the "+", so a client should send a space as %20.
    single: dict[str, str] = {}
    multiple: dict[str, list[str]] = {}
    for pair in query_string.split("&"):
        if not pair:
            continue
        name, _, value = pair.partition("=")
        name, value = unquote(name), unquote(value)
        single[name] = value
        multiple.setdefault(name, []).append(value)
    return single, multiple


def _headers(environ: dict[str, Any]) -> list[tuple[str, str]]:
    raw = environ.get(RAW_HEADERS_KEY)
    if raw is not None:
        return list(raw)
    # Without the raw headers, names are rebuilt in title case and repeats stay joined.
    headers = []
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            headers.append((key[5:].replace("_", "-").title(), value))
        elif key in UNPREFIXED_HEADERS and value:
            headers.append((UNPREFIXED_HEADERS[key], value))
    return headers


def _body(environ: dict[str, Any]) -> bytes:
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    if environ.get("wsgi.input_terminated"):
        remaining = None
    else:
        try:
            remaining = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return b""
        if remaining <= 0:
            return b""

    chunks: list[bytes] = []
    size = 0
    while remaining is None or remaining > 0:
        chunk_size = READ_CHUNK_BYTES if remaining is None else min(READ_CHUNK_BYTES, remaining)
        chunk = stream.read(chunk_size)
        if not chunk:
            break
        size += len(chunk)
        if remaining is not None:
            remaining -= len(chunk)
        if size <= MAX_BODY_BYTES:
            chunks.append(chunk)
        elif chunks:
            chunks.clear()
    if size > MAX_BODY_BYTES:
        raise RequestTooLongError(
            f"request body of {size} bytes is larger than API Gateway's payload quota of "
            f"{MAX_BODY_BYTES} bytes"
        )
    return b"".join(chunks)
