"""AWS::ApiGateway::RestApi (from an OpenAPI Body), Deployment and Stage."""

from __future__ import annotations

import logging
from typing import Any

from botocore.exceptions import ClientError

from infra.localcloud.deploy.handlers.base import (
    Provisioned,
    ResourceContext,
    ResourceHandler,
    changed,
    error_code,
    tags_as_dict,
)
from infra.localcloud.deploy.handlers.openapi import apply_body
from infra.localcloud.deploy.handlers.stable_ids import reserve_previous_id

logger = logging.getLogger(__name__)

MISSING_CODES = ("NotFoundException",)


class RestApiHandler(ResourceHandler):
    resource_type = "AWS::ApiGateway::RestApi"
    attributes = ("RestApiId", "RootResourceId")
    handled_properties = (
        "Name",
        "Description",
        "Body",
        "ApiKeySourceType",
        "BinaryMediaTypes",
        "EndpointConfiguration",
        "Tags",
        # Import options of the Body (endpoint type, warnings); nothing to apply locally.
        "Parameters",
        "FailOnWarnings",
        "Mode",
    )

    def exists(self, context: ResourceContext, record: dict[str, Any]) -> bool:
        try:
            context.client("apigateway").get_rest_api(restApiId=record["PhysicalResourceId"])
        except ClientError as error:
            if error_code(error) in MISSING_CODES:
                return False
            raise
        return True

    def create(self, context: ResourceContext, properties: dict[str, Any]) -> Provisioned:
        client = context.client("apigateway")
        body = properties.get("Body") or {}
        name = (
            properties.get("Name") or body.get("info", {}).get("title") or context.physical_name()
        )
        arguments: dict[str, Any] = {"name": str(name)}
        if "Description" in properties:
            arguments["description"] = properties["Description"]
        if "ApiKeySourceType" in properties:
            arguments["apiKeySource"] = properties["ApiKeySourceType"]
        if "BinaryMediaTypes" in properties:
            arguments["binaryMediaTypes"] = properties["BinaryMediaTypes"]
        if "EndpointConfiguration" in properties:
            arguments["endpointConfiguration"] = {
                "types": properties["EndpointConfiguration"].get("Types", ["EDGE"])
            }
        if properties.get("Tags"):
            arguments["tags"] = tags_as_dict(properties["Tags"])
        reserve_previous_id(context, "rest_api", arguments["name"])
        api_id = client.create_rest_api(**arguments)["id"]
        if body:
            apply_body(client, api_id, body, context.logical_id)
        return self._provisioned(client, api_id)

    def update(
        self, context: ResourceContext, properties: dict[str, Any], record: dict[str, Any]
    ) -> Provisioned:
        client = context.client("apigateway")
        api_id = record["PhysicalResourceId"]
        operations = []
        if changed(properties, record, "Name") and properties.get("Name"):
            operations.append({"op": "replace", "path": "/name", "value": properties["Name"]})
        if changed(properties, record, "Description"):
            description = properties.get("Description", "")
            operations.append({"op": "replace", "path": "/description", "value": description})
        if operations:
            client.update_rest_api(restApiId=api_id, patchOperations=operations)
        if changed(properties, record, "Body"):
            # As PutRestApi in overwrite mode: the API keeps its id, its resources are rebuilt.
            _delete_resources(client, api_id)
            apply_body(client, api_id, properties.get("Body") or {}, context.logical_id)
        return self._provisioned(client, api_id)

    def delete(self, context: ResourceContext, record: dict[str, Any]) -> None:
        context.client("apigateway").delete_rest_api(restApiId=record["PhysicalResourceId"])

    def local_attribute(self, name: str, attribute: str, region: str, account_id: str) -> str:
        return f"{name}{attribute}" if attribute == "RootResourceId" else name

    @staticmethod
    def _provisioned(client: Any, api_id: str) -> Provisioned:
        resources = client.get_resources(restApiId=api_id, limit=500)["items"]
        root_id = next(resource["id"] for resource in resources if resource["path"] == "/")
        return Provisioned(
            physical_id=api_id, attributes={"RestApiId": api_id, "RootResourceId": root_id}
        )


def _delete_resources(client: Any, api_id: str) -> None:
    resources = client.get_resources(restApiId=api_id, limit=500)["items"]
    # Deepest paths first, so that no resource outlives its parent.
    for resource in sorted(resources, key=lambda item: item["path"].count("/"), reverse=True):
        if resource["path"] == "/":
            for method in resource.get("resourceMethods", {}):
                client.delete_method(restApiId=api_id, resourceId=resource["id"], httpMethod=method)
        else:
            client.delete_resource(restApiId=api_id, resourceId=resource["id"])


class DeploymentHandler(ResourceHandler):
    """AWS::ApiGateway::Deployment: a snapshot of the API; every change makes a new one."""

    resource_type = "AWS::ApiGateway::Deployment"
    attributes = ("DeploymentId",)
    required_properties = ("RestApiId",)
    handled_properties = ("RestApiId", "Description", "StageName", "StageDescription")

    def exists(self, context: ResourceContext, record: dict[str, Any]) -> bool:
        # moto 5.2.5 returns a 500 (a KeyError) from GetDeployment for an unknown id, not
        # NotFoundException. That happens when a restart recreated the REST API under its old
        # id without its deployments, so the deployments are listed instead.
        client = context.client("apigateway")
        try:
            pages = client.get_paginator("get_deployments").paginate(
                restApiId=record["Attributes"]["RestApiId"]
            )
            deployment_ids = {item["id"] for page in pages for item in page.get("items", [])}
        except ClientError as error:
            if error_code(error) in MISSING_CODES:
                return False
            raise
        return record["PhysicalResourceId"] in deployment_ids

    def create(self, context: ResourceContext, properties: dict[str, Any]) -> Provisioned:
        api_id = properties["RestApiId"]
        arguments: dict[str, Any] = {"restApiId": api_id}
        if "Description" in properties:
            arguments["description"] = properties["Description"]
        if "StageName" in properties:
            arguments["stageName"] = properties["StageName"]
            description = properties.get("StageDescription", {}).get("Description")
            if description:
                arguments["stageDescription"] = description
        deployment_id = context.client("apigateway").create_deployment(**arguments)["id"]
        return Provisioned(
            physical_id=deployment_id,
            attributes={"DeploymentId": deployment_id, "RestApiId": api_id},
        )

    def update(
        self, context: ResourceContext, properties: dict[str, Any], record: dict[str, Any]
    ) -> Provisioned:
        return self.create(context, properties)

    def delete(self, context: ResourceContext, record: dict[str, Any]) -> None:
        try:
            context.client("apigateway").delete_deployment(
                restApiId=record["Attributes"]["RestApiId"],
                deploymentId=record["PhysicalResourceId"],
            )
        except ClientError as error:
            if error_code(error) in MISSING_CODES:
                return
            if error_code(error) != "BadRequestException":
                raise
            # NOTE: moto 5.2.5 rejects deleting a deployment made with a StageName while that
            # stage exists, even after a newer deployment took the stage over. So the old
            # deployment stays, unused.
            logger.info(
                "kept old deployment %s of API %s: %s",
                record["PhysicalResourceId"],
                record["Attributes"]["RestApiId"],
                error,
            )


class StageHandler(ResourceHandler):
    resource_type = "AWS::ApiGateway::Stage"
    required_properties = ("RestApiId",)
    handled_properties = (
        "RestApiId",
        "StageName",
        "DeploymentId",
        "Description",
        "Variables",
        "TracingEnabled",
        "CacheClusterEnabled",
        "CacheClusterSize",
        "Tags",
    )

    def exists(self, context: ResourceContext, record: dict[str, Any]) -> bool:
        try:
            context.client("apigateway").get_stage(
                restApiId=record["Attributes"]["RestApiId"],
                stageName=record["PhysicalResourceId"],
            )
        except ClientError as error:
            if error_code(error) in MISSING_CODES:
                return False
            raise
        return True

    def create(self, context: ResourceContext, properties: dict[str, Any]) -> Provisioned:
        client = context.client("apigateway")
        api_id = properties["RestApiId"]
        name = str(properties.get("StageName") or context.physical_name(128))
        record = {"PhysicalResourceId": name, "Attributes": {"RestApiId": api_id}}
        if self.exists(context, record):
            logger.info(
                "stage %s of API %s already exists; bringing it to the template", name, api_id
            )
            return self.update(context, properties, {**record, "Properties": {}})

        arguments: dict[str, Any] = {
            "restApiId": api_id,
            "stageName": name,
            "deploymentId": properties.get("DeploymentId", ""),
        }
        if "Description" in properties:
            arguments["description"] = properties["Description"]
        if "Variables" in properties:
            arguments["variables"] = {
                key: str(value) for key, value in properties["Variables"].items()
            }
        if "TracingEnabled" in properties:
            arguments["tracingEnabled"] = str(properties["TracingEnabled"]).lower() == "true"
        if "CacheClusterEnabled" in properties:
            arguments["cacheClusterEnabled"] = (
                str(properties["CacheClusterEnabled"]).lower() == "true"
            )
        if "CacheClusterSize" in properties:
            arguments["cacheClusterSize"] = str(properties["CacheClusterSize"])
        if properties.get("Tags"):
            arguments["tags"] = tags_as_dict(properties["Tags"])

        client.create_stage(**arguments)
        return Provisioned(physical_id=name, attributes={"RestApiId": api_id})

    def update(
        self, context: ResourceContext, properties: dict[str, Any], record: dict[str, Any]
    ) -> Provisioned:
        api_id = properties["RestApiId"]
        name = str(properties.get("StageName") or context.physical_name(128))
        if name != record["PhysicalResourceId"] or api_id != record["Attributes"].get("RestApiId"):
            return self.create(context, properties)

        operations = []
        if changed(properties, record, "DeploymentId"):
            operations.append(
                {
                    "op": "replace",
                    "path": "/deploymentId",
                    "value": properties.get("DeploymentId", ""),
                }
            )
        if changed(properties, record, "Description"):
            operations.append(
                {
                    "op": "replace",
                    "path": "/description",
                    "value": properties.get("Description", ""),
                }
            )
        if changed(properties, record, "Variables"):
            previous = record.get("Properties", {}).get("Variables", {}) or {}
            desired = properties.get("Variables", {}) or {}
            for key in previous:
                if key not in desired:
                    operations.append({"op": "remove", "path": f"/variables/{key}"})
            for key, value in desired.items():
                operations.append(
                    {"op": "replace", "path": f"/variables/{key}", "value": str(value)}
                )
        if operations:
            context.client("apigateway").update_stage(
                restApiId=api_id, stageName=name, patchOperations=operations
            )
        return Provisioned(physical_id=name, attributes={"RestApiId": api_id})

    def delete(self, context: ResourceContext, record: dict[str, Any]) -> None:
        try:
            context.client("apigateway").delete_stage(
                restApiId=record["Attributes"]["RestApiId"], stageName=record["PhysicalResourceId"]
            )
        except ClientError as error:
            if error_code(error) not in MISSING_CODES:
                raise
