"""Invoke URLs in LocalStack's form: /restapis/{api_id}/{stage}/_user_request_/{path}."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

USER_REQUEST_MARKER = "_user_request_"
INVOKE_PATH = re.compile(r"^/restapis/(?P<api_id>[^/]+)/(?P<stage>[^/]+)/_user_request_(?:/.*)?$")


@dataclass(frozen=True)
class InvokeTarget:
    """The API, stage and resource path of one request, with the path still percent-encoded."""

    api_id: str
    stage: str
    path: str


def matches(path: str) -> bool:
    """Return whether a request path is an API Gateway invoke URL."""
    return INVOKE_PATH.match(path) is not None


def parse_invoke_target(environ: dict[str, Any]) -> InvokeTarget | None:
    """Split a request into API, stage and path, or return None for another kind of path.

    The path comes from the raw request URI when the server provides it (werkzeug sets
    RAW_URI), so that an encoded slash (%2F) stays inside its path segment, as on AWS.
    """
    match = INVOKE_PATH.match(environ.get("PATH_INFO", ""))
    if match is None:
        return None

    raw_uri = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw_uri:
        raw_path = urlsplit(raw_uri).path if "://" in raw_uri else raw_uri.split("?", 1)[0]
    else:
        raw_path = quote(environ["PATH_INFO"].encode("latin-1"), safe="/:@!$&'()*+,;=~-._")
    _, _, user_path = raw_path.partition(USER_REQUEST_MARKER)
    return InvokeTarget(
        api_id=match.group("api_id"),
        stage=match.group("stage"),
        path=user_path if user_path.startswith("/") else "/" + user_path,
    )
