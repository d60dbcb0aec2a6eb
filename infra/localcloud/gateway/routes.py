"""The resource tree of one deployment, and the matching of request paths against it.

At each path segment a static path part is tried first, then a path parameter `{name}`, then
a greedy `{name+}` that takes the rest of the path (one segment or more). A resource matches
only if it has the request's method or ANY, and a method of its own wins over ANY. When the
more specific branch has no such method, the search goes back and tries the next branch.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)

ANY_METHOD = "ANY"
# API Gateway ends an integration after 29 seconds unless timeoutInMillis sets a limit.
DEFAULT_INTEGRATION_TIMEOUT_MS = 29_000


@dataclass(frozen=True)
class IntegrationConfig:
    """A method's integration: its type, URI, the integration's HTTP method and timeout."""

    type: str
    uri: str
    http_method: str | None
    timeout_ms: int


@dataclass(frozen=True)
class MethodRoute:
    """One method of one resource, as deployed."""

    resource_id: str
    resource_path: str
    http_method: str
    api_key_required: bool
    integration: IntegrationConfig | None


@dataclass(frozen=True)
class RouteMatch:
    """The method that serves a request, with the path parameters taken from its path."""

    route: MethodRoute
    path_parameters: dict[str, str]


@dataclass
class _Node:
    static: dict[str, _Node] = field(default_factory=dict)
    parameter: tuple[str, _Node] | None = None
    greedy: tuple[str, _Node] | None = None
    methods: dict[str, MethodRoute] = field(default_factory=dict)

    def method(self, http_method: str) -> MethodRoute | None:
        return self.methods.get(http_method) or self.methods.get(ANY_METHOD)


class RouteTable:
    """The routes of one deployment, built once from moto's resources and then read-only."""

    def __init__(self, root: _Node, method_count: int) -> None:
        self._root = root
        self.method_count = method_count

    @classmethod
    def from_rest_api(cls, api: Any) -> RouteTable:
        """Build the table from a moto `RestAPI`: its resources, methods and integrations."""
        resources = {resource.id: resource for resource in list(api.resources.values())}
        root = _Node()
        method_count = 0
        for resource in resources.values():
            parts = _path_parts(resource, resources)
            if parts is None:
                logger.warning(
                    "API %s: resource %s has a missing parent, so it is not routed",
                    api.id,
                    resource.id,
                )
                continue
            node = _insert(root, parts, api.id)
            if node is None:
                continue
            resource_path = "/" + "/".join(parts)
            for http_method, method in list(resource.resource_methods.items()):
                node.methods[http_method] = _method_route(resource, resource_path, method)
                method_count += 1
        return cls(root, method_count)

    def match(self, http_method: str, path: str) -> RouteMatch | None:
        """Return the method that serves `http_method` on the raw `path`, or None.

        Path parameter values stay percent-encoded, as API Gateway passes them. A trailing
        slash is ignored for matching, but a greedy parameter keeps it.
        """
        segments = path[1:].split("/") if path.startswith("/") else path.split("/")
        matched_segments = segments[:-1] if segments[-1] == "" else segments
        parameters: dict[str, str] = {}
        route = _find(self._root, matched_segments, segments, 0, http_method, parameters)
        if route is None:
            return None
        return RouteMatch(route, parameters)


def _find(
    node: _Node,
    matched_segments: list[str],
    segments: list[str],
    index: int,
    http_method: str,
    parameters: dict[str, str],
) -> MethodRoute | None:
    """Search the tree depth first, static part before parameter before greedy parameter."""
    if index == len(matched_segments):
        return node.method(http_method)

    segment = matched_segments[index]
    child = node.static.get(segment)
    if child is not None:
        route = _find(child, matched_segments, segments, index + 1, http_method, parameters)
        if route is not None:
            return route

    if node.parameter is not None and segment:
        name, child = node.parameter
        parameters[name] = segment
        route = _find(child, matched_segments, segments, index + 1, http_method, parameters)
        if route is not None:
            return route
        del parameters[name]

    if node.greedy is not None:
        name, child = node.greedy
        route = child.method(http_method)
        if route is not None:
            parameters[name] = "/".join(segments[index:])
            return route
    return None


def _path_parts(resource: Any, resources: dict[str, Any]) -> list[str] | None:
    """Return a resource's path parts from the root down, or None if a parent is missing."""
    parts: list[str] = []
    current = resource
    # A cycle cannot come from the API, but the bound keeps a corrupt tree from looping.
    for _ in range(len(resources) + 1):
        if not current.parent_id:
            return list(reversed(parts))
        parts.append(current.path_part)
        current = resources.get(current.parent_id)
        if current is None:
            return None
    return None


def _insert(root: _Node, parts: list[str], api_id: str) -> _Node | None:
    node = root
    for position, part in enumerate(parts):
        if part.startswith("{") and part.endswith("+}"):
            if position != len(parts) - 1:
                logger.warning(
                    "API %s: greedy path part %s must be the last one of /%s; not routed",
                    api_id,
                    part,
                    "/".join(parts),
                )
                return None
            node = _child_for_parameter(node, "greedy", part[1:-2], api_id)
        elif part.startswith("{") and part.endswith("}"):
            node = _child_for_parameter(node, "parameter", part[1:-1], api_id)
        else:
            node = node.static.setdefault(part, _Node())
    return node


def _child_for_parameter(node: _Node, kind: str, name: str, api_id: str) -> _Node:
    existing: tuple[str, _Node] | None = getattr(node, kind)
    if existing is None:
        child = _Node()
        setattr(node, kind, (name, child))
        return child
    if existing[0] != name:
        # API Gateway allows one parameter per level, but moto does not check it.
        logger.warning(
            "API %s: path parameters {%s} and {%s} share a level; {%s} is used",
            api_id,
            existing[0],
            name,
            existing[0],
        )
    return existing[1]


def _method_route(resource: Any, resource_path: str, method: Any) -> MethodRoute:
    integration = method.method_integration
    config = None
    if integration is not None:
        timeout = integration.timeout_in_millis
        config = IntegrationConfig(
            type=str(integration.integration_type or "").upper(),
            uri=str(integration.uri or ""),
            http_method=integration.http_method,
            timeout_ms=int(timeout) if timeout else DEFAULT_INTEGRATION_TIMEOUT_MS,
        )
    return MethodRoute(
        resource_id=resource.id,
        resource_path=resource_path,
        http_method=method.http_method,
        api_key_required=bool(method.api_key_required),
        integration=config,
    )
