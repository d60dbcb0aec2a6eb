"""Stack outputs as strings, with API Gateway invoke URLs pointed at the local cloud."""

from __future__ import annotations

import re
from typing import Any

from infra.localcloud.deploy.intrinsics import IntrinsicResolver, Location
from infra.localcloud.deploy.parameters import parameter_text

# https://API_ID.execute-api.REGION.amazonaws.com/STAGE/PATH, as API Gateway serves a stage.
INVOKE_URL_PATTERN = re.compile(
    r"https://(?P<api_id>[a-z0-9]+)\.execute-api\.[a-z0-9-]+\.amazonaws\.com"
    r"/(?P<stage>[^/?#]+)(?P<rest>[^?#]*)(?P<tail>.*)"
)


def local_invoke_url(url: str, endpoint_url: str) -> str:
    """Rewrite an API Gateway invoke URL to the local cloud's address; other text is kept.

    The local cloud serves a stage at ENDPOINT/restapis/API_ID/STAGE/_user_request_/PATH,
    the form LocalStack uses.
    """
    match = INVOKE_URL_PATTERN.fullmatch(url)
    if match is None:
        return url
    rest = match.group("rest") or "/"
    base = endpoint_url.rstrip("/")
    return (
        f"{base}/restapis/{match.group('api_id')}/{match.group('stage')}/_user_request_"
        f"{rest}{match.group('tail')}"
    )


def resolve_outputs(
    outputs: dict[str, Any],
    conditions: dict[str, bool],
    resolver: IntrinsicResolver,
    endpoint_url: str,
) -> dict[str, str]:
    """Return each output whose Condition is true (or absent), resolved to a string."""
    values = {}
    for name, output in outputs.items():
        condition = output.get("Condition")
        if condition is not None and not conditions[condition]:
            continue
        value = resolver.resolve(output["Value"], Location("output", name, "Value"))
        values[name] = local_invoke_url(parameter_text(value), endpoint_url)
    return values
