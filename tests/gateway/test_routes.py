"""Route matching of the resource tree: precedence, backtracking, ANY and greedy paths."""

from __future__ import annotations

import pytest

from tests.gateway.route_support import build_routes


def test_static_path_beats_parameter() -> None:
    routes = build_routes({"/items/special": ["GET"], "/items/{id}": ["GET"]})

    special = routes.match("GET", "/items/special")
    other = routes.match("GET", "/items/7")

    assert special is not None
    assert special.route.resource_path == "/items/special"
    assert special.path_parameters == {}
    assert other is not None
    assert other.route.resource_path == "/items/{id}"
    assert other.path_parameters == {"id": "7"}


def test_match_backtracks_when_static_lacks_method() -> None:
    routes = build_routes({"/items/special": ["POST"], "/items/{id}": ["GET"]})

    match = routes.match("GET", "/items/special")

    assert match is not None
    assert match.route.resource_path == "/items/{id}"
    assert match.path_parameters == {"id": "special"}


def test_parameter_beats_greedy_path() -> None:
    routes = build_routes({"/{proxy+}": ["ANY"], "/items/{id}": ["GET"]})

    item = routes.match("GET", "/items/1")
    other = routes.match("GET", "/other/x")

    assert item is not None
    assert item.route.resource_path == "/items/{id}"
    assert other is not None
    assert other.route.resource_path == "/{proxy+}"
    assert other.path_parameters == {"proxy": "other/x"}


def test_own_method_beats_any() -> None:
    routes = build_routes({"/items": ["GET", "ANY"]})

    get = routes.match("GET", "/items")
    post = routes.match("POST", "/items")

    assert get is not None
    assert get.route.http_method == "GET"
    assert post is not None
    assert post.route.http_method == "ANY"


@pytest.mark.parametrize("path", ["/files", "/files/"])
def test_greedy_path_needs_one_segment(path: str) -> None:
    routes = build_routes({"/files/{proxy+}": ["ANY"]})

    assert routes.match("GET", path) is None


def test_greedy_path_keeps_encoding_and_trailing_slash() -> None:
    routes = build_routes({"/files/{proxy+}": ["ANY"]})

    match = routes.match("GET", "/files/a%2Fb/c/")

    assert match is not None
    assert match.path_parameters == {"proxy": "a%2Fb/c/"}


def test_trailing_slash_ignored_and_root_routed() -> None:
    routes = build_routes({"/": ["GET"], "/items": ["GET"]})

    items = routes.match("GET", "/items/")
    root = routes.match("GET", "/")

    assert items is not None
    assert items.route.resource_path == "/items"
    assert root is not None
    assert root.route.resource_path == "/"


@pytest.mark.parametrize(("method", "path"), [("GET", "/missing"), ("POST", "/items")])
def test_no_match_for_unknown_path_or_method(method: str, path: str) -> None:
    routes = build_routes({"/items": ["GET"]})

    assert routes.match(method, path) is None


def test_route_carries_integration_and_key_requirement() -> None:
    routes = build_routes({"/items": ["GET"]})

    match = routes.match("GET", "/items")

    assert match is not None
    assert match.route.api_key_required is False
    assert match.route.integration is not None
    assert match.route.integration.type == "AWS_PROXY"
    assert match.route.integration.http_method == "POST"
    assert match.route.integration.timeout_ms == 29_000
    assert routes.method_count == 1
