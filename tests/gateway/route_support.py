"""REST APIs built in memory from moto's models, for tests that need no running cloud."""

from __future__ import annotations

from moto.apigateway.models import RestAPI

from infra.localcloud.gateway.routes import RouteTable

UNIT_ACCOUNT_ID = "123456789012"
UNIT_REGION = "us-east-1"
LAMBDA_URI = (
    "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
    "arn:aws:lambda:us-east-1:123456789012:function:unit/invocations"
)


def build_api(methods_by_path: dict[str, list[str]]) -> RestAPI:
    """Create a moto RestAPI with a Lambda proxy method for each path and HTTP method."""
    api = RestAPI("unitapi", UNIT_ACCOUNT_ID, UNIT_REGION, "unit", "")
    resource_ids = {"/": api.root_resource_id}
    for path in sorted(methods_by_path):
        parent = "/"
        for part in [segment for segment in path.split("/") if segment]:
            current = f"{parent.rstrip('/')}/{part}"
            if current not in resource_ids:
                resource_ids[current] = api.add_child(part, resource_ids[parent]).id
            parent = current
        resource = api.resources[resource_ids[path]]
        for http_method in methods_by_path[path]:
            resource.add_method(http_method, "NONE", api_key_required=False)
            resource.add_integration(
                http_method, "AWS_PROXY", LAMBDA_URI, integration_method="POST"
            )
    return api


def build_routes(methods_by_path: dict[str, list[str]]) -> RouteTable:
    return RouteTable.from_rest_api(build_api(methods_by_path))
