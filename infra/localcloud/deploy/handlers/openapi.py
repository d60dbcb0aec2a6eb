"""Build a REST API's resources, methods and integrations from an OpenAPI (Swagger) body.

moto 5.2.5 imports only OpenAPI 3 documents and ignores their security, while SAM
generates Swagger 2.0, so the deployer creates each resource and method itself.
"""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch")
ANY_METHOD_KEY = "x-amazon-apigateway-any-method"
INTEGRATION_KEY = "x-amazon-apigateway-integration"
# Fields of the OpenAPI integration extension that PutIntegration takes under the same name.
INTEGRATION_ARGUMENTS = (
    "credentials",
    "requestTemplates",
    "requestParameters",
    "passthroughBehavior",
    "contentHandling",
    "timeoutInMillis",
    "cacheNamespace",
    "connectionType",
)


def apply_body(client: Any, api_id: str, body: dict[str, Any], logical_id: str) -> None:
    """Create every path of body under the API's root, with its methods and integrations."""
    api_key_schemes = _api_key_schemes(body)
    default_security = body.get("security", [])
    root_id = _root_id(client, api_id)
    resource_ids = {"/": root_id}

    for path in sorted(body.get("paths", {})):
        resource_id = _ensure_resource(client, api_id, path, resource_ids)
        for key, operation in body["paths"][path].items():
            if key == ANY_METHOD_KEY:
                http_method = "ANY"
            elif key in HTTP_METHODS:
                http_method = key.upper()
            else:
                continue
            security = operation.get("security", default_security)
            api_key_required = any(
                name in api_key_schemes for requirement in security for name in requirement
            )
            unsupported = [
                name
                for requirement in security
                for name in requirement
                if name not in api_key_schemes
            ]
            if unsupported:
                # NOTE: authorizers (Lambda, Cognito, IAM) are not created; the method is
                # open apart from any API key it requires.
                logger.warning(
                    "API %s %s %s: security %s is not supported locally; only API keys are checked",
                    logical_id,
                    http_method,
                    path,
                    ", ".join(unsupported),
                )
            client.put_method(
                restApiId=api_id,
                resourceId=resource_id,
                httpMethod=http_method,
                authorizationType="NONE",
                apiKeyRequired=api_key_required,
            )
            for status_code in operation.get("responses", {}):
                client.put_method_response(
                    restApiId=api_id,
                    resourceId=resource_id,
                    httpMethod=http_method,
                    statusCode=str(status_code),
                )
            integration = operation.get(INTEGRATION_KEY)
            if integration:
                _put_integration(client, api_id, resource_id, http_method, integration)


def _api_key_schemes(body: dict[str, Any]) -> set[str]:
    definitions = dict(body.get("securityDefinitions", {}))
    definitions.update(body.get("components", {}).get("securitySchemes", {}))
    return {
        name
        for name, scheme in definitions.items()
        if isinstance(scheme, dict)
        and scheme.get("type") == "apiKey"
        and scheme.get("x-amazon-apigateway-authtype") is None
    }


def _root_id(client: Any, api_id: str) -> str:
    resources = client.get_resources(restApiId=api_id, limit=500)["items"]
    return next(resource["id"] for resource in resources if resource["path"] == "/")


def _ensure_resource(client: Any, api_id: str, path: str, resource_ids: dict[str, str]) -> str:
    """Return the id of the resource at path, creating it and its missing parents."""
    current = ""
    parent_id = resource_ids["/"]
    for part in [segment for segment in path.split("/") if segment]:
        current = f"{current}/{part}"
        if current not in resource_ids:
            created = client.create_resource(restApiId=api_id, parentId=parent_id, pathPart=part)
            resource_ids[current] = created["id"]
        parent_id = resource_ids[current]
    return parent_id


def _put_integration(
    client: Any, api_id: str, resource_id: str, http_method: str, integration: dict[str, Any]
) -> None:
    arguments: dict[str, Any] = {
        "restApiId": api_id,
        "resourceId": resource_id,
        "httpMethod": http_method,
        "type": str(integration.get("type", "aws_proxy")).upper(),
    }
    if "httpMethod" in integration:
        arguments["integrationHttpMethod"] = str(integration["httpMethod"]).upper()
    if "uri" in integration:
        arguments["uri"] = integration["uri"]
    for key in INTEGRATION_ARGUMENTS:
        if key in integration:
            arguments[key] = integration[key]
    if "timeoutInMillis" in arguments:
        arguments["timeoutInMillis"] = int(arguments["timeoutInMillis"])
    client.put_integration(**arguments)

    for pattern, response in integration.get("responses", {}).items():
        response_arguments: dict[str, Any] = {
            "restApiId": api_id,
            "resourceId": resource_id,
            "httpMethod": http_method,
            "statusCode": str(response.get("statusCode", "200")),
        }
        if pattern != "default":
            response_arguments["selectionPattern"] = pattern
        for key in ("responseTemplates", "responseParameters", "contentHandling"):
            if key in response:
                response_arguments[key] = response[key]
        client.put_integration_response(**response_arguments)
