"""Ids chosen by the deployer for moto resources, so that a redeployment after a restart
gives a resource the id it had before.

moto 5.2.5 builds most ids through `moto.utilities.id_generator`, which consults a list of
id sources before it draws a random id. The source added here returns the id reserved for the
next resource created with a given service, resource type and name. It does so once, and then
drops the reservation, so a later resource of the same name gets a fresh id.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from moto.utilities.id_generator import IdSourceContext, moto_id_manager

from infra.localcloud.config import ACCOUNT_ID, REGION

logger = logging.getLogger(__name__)

# The (service, resource) pairs of moto's identifiers that accept a reserved id. moto names
# an API key's identifier by the key's value, and a REST API's by the API's name.
RESERVABLE = frozenset({("apigateway", "rest_api"), ("apigateway", "api_key")})

_reserved: dict[str, str] = {}
_lock = threading.Lock()
_installed = False


def install() -> None:
    """Add the reserved-id source to moto's id manager, once per process."""
    global _installed
    with _lock:
        if not _installed:
            moto_id_manager.add_id_source(_take_reserved_id)
            _installed = True


def reserve(request: dict[str, Any]) -> str:
    """Reserve request["id"] for the next resource that request names; return that id.

    Raises ValueError naming the field when the request is incomplete or names a resource
    type that takes no reserved id.
    """
    for field in ("service", "resource", "name", "id"):
        if not isinstance(request.get(field), str) or not request[field]:
            raise ValueError(f"field {field} is missing or empty; it must be a non-empty string")
    if (request["service"], request["resource"]) not in RESERVABLE:
        allowed = ", ".join(f"{service}/{resource}" for service, resource in sorted(RESERVABLE))
        raise ValueError(
            f"resource {request['service']}/{request['resource']} takes no reserved id; "
            f"allowed: {allowed}"
        )
    key = _unique_identifier(
        request["service"], request["resource"], request.get("region") or REGION, request["name"]
    )
    with _lock:
        _reserved[key] = request["id"]
    logger.info("reserved id %s for the next %s", request["id"], request["resource"])
    return str(request["id"])


def _unique_identifier(service: str, resource: str, region: str, name: str) -> str:
    # The same string as moto's ResourceIdentifier.unique_identifier.
    return f"{ACCOUNT_ID}.{region}.{service}.{resource}.{name}"


def _take_reserved_id(context: IdSourceContext) -> str | None:
    identifier = context.get("resource_identifier")
    if identifier is None:
        return None
    with _lock:
        return _reserved.pop(identifier.unique_identifier, None)
