"""AWS::ApiGateway::ApiKey, UsagePlan and UsagePlanKey.

Key values are generated here when the template gives none, and are never logged or
written to the stack record: read one with `get_api_key(apiKey=ID, includeValue=True)`.
A generated value is kept in STATE_DIR/secrets/api-keys.json (mode 0600), so that the key
keeps its id and value when a redeployment recreates it after a restart of the local cloud.
"""

from __future__ import annotations

import secrets
import string
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
from infra.localcloud.deploy.handlers.stable_ids import ApiKeyValues, reserve_previous_id

MISSING_CODES = ("NotFoundException",)
API_KEY_LENGTH = 40
API_KEY_ALPHABET = string.ascii_letters + string.digits


class ApiKeyHandler(ResourceHandler):
    resource_type = "AWS::ApiGateway::ApiKey"
    attributes = ("APIKeyId",)
    secret_properties = ("Value",)
    handled_properties = (
        "Name",
        "Description",
        "Enabled",
        "GenerateDistinctId",
        "Value",
        "StageKeys",
        "CustomerId",
        "Tags",
    )

    def exists(self, context: ResourceContext, record: dict[str, Any]) -> bool:
        try:
            context.client("apigateway").get_api_key(apiKey=record["PhysicalResourceId"])
        except ClientError as error:
            if error_code(error) in MISSING_CODES:
                return False
            raise
        return True

    def create(self, context: ResourceContext, properties: dict[str, Any]) -> Provisioned:
        value = properties.get("Value") or _generated_value(context)
        arguments: dict[str, Any] = {
            "name": properties.get("Name") or context.physical_name(),
            "enabled": _boolean(properties.get("Enabled", False)),
            "value": value,
            "stageKeys": _stage_keys(properties),
        }
        if "Description" in properties:
            arguments["description"] = properties["Description"]
        if "CustomerId" in properties:
            arguments["customerId"] = properties["CustomerId"]
        if "GenerateDistinctId" in properties:
            arguments["generateDistinctId"] = _boolean(properties["GenerateDistinctId"])
        if properties.get("Tags"):
            arguments["tags"] = tags_as_dict(properties["Tags"])
        reserve_previous_id(context, "api_key", value)
        key_id = context.client("apigateway").create_api_key(**arguments)["id"]
        if not properties.get("Value") and context.state_dir is not None:
            ApiKeyValues(context.state_dir).put(context.stack_name, context.logical_id, key_id, value)
        return Provisioned(physical_id=key_id, attributes={"APIKeyId": key_id})

    def update(
        self, context: ResourceContext, properties: dict[str, Any], record: dict[str, Any]
    ) -> Provisioned:
        if changed(properties, record, "Value", "GenerateDistinctId"):
            return self.create(context, properties)
        key_id = record["PhysicalResourceId"]
        operations = []
        if changed(properties, record, "Name"):
            name = properties.get("Name") or context.physical_name()
            operations.append({"op": "replace", "path": "/name", "value": name})
        for template_name, api_path in (
            ("Description", "/description"),
            ("CustomerId", "/customerId"),
        ):
            if changed(properties, record, template_name):
                value = str(properties.get(template_name, ""))
                operations.append({"op": "replace", "path": api_path, "value": value})
        if changed(properties, record, "Enabled"):
            enabled = str(_boolean(properties.get("Enabled", False))).lower()
            operations.append({"op": "replace", "path": "/enabled", "value": enabled})
        if changed(properties, record, "StageKeys"):
            before = {_stage_key_text(key) for key in _stage_keys(record.get("Properties", {}))}
            after = {_stage_key_text(key) for key in _stage_keys(properties)}
            operations += [
                {"op": "remove", "path": "/stages", "value": key} for key in sorted(before - after)
            ]
            operations += [
                {"op": "add", "path": "/stages", "value": key} for key in sorted(after - before)
            ]
        if operations:
            context.client("apigateway").update_api_key(apiKey=key_id, patchOperations=operations)
        return Provisioned(physical_id=key_id, attributes={"APIKeyId": key_id})

    def delete(self, context: ResourceContext, record: dict[str, Any]) -> None:
        key_id = record["PhysicalResourceId"]
        try:
            context.client("apigateway").delete_api_key(apiKey=key_id)
        except ClientError as error:
            if error_code(error) not in MISSING_CODES:
                raise
        if context.state_dir is not None:
            ApiKeyValues(context.state_dir).remove(context.stack_name, context.logical_id, key_id)


def _generated_value(context: ResourceContext) -> str:
    """Return the value the key had before a restart, if it was stored, else a new one."""
    if context.previous_physical_id is not None and context.state_dir is not None:
        stored = ApiKeyValues(context.state_dir).get(
            context.stack_name, context.logical_id, context.previous_physical_id
        )
        if stored is not None:
            return stored
    return generate_api_key()


def generate_api_key() -> str:
    """Return a random API key value of 40 letters and digits, as API Gateway generates."""
    return "".join(secrets.choice(API_KEY_ALPHABET) for _ in range(API_KEY_LENGTH))


def _stage_keys(properties: dict[str, Any]) -> list[dict[str, str]]:
    return [
        {"restApiId": str(key["RestApiId"]), "stageName": str(key["StageName"])}
        for key in properties.get("StageKeys", [])
    ]


def _stage_key_text(key: dict[str, str]) -> str:
    return f"{key['restApiId']}/{key['stageName']}"


def _boolean(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() == "true"
    return bool(value)


class UsagePlanHandler(ResourceHandler):
    """AWS::ApiGateway::UsagePlan: throttling (rate, burst) and a quota for its API stages.

    NOTE: every change creates a new plan with a new id, and the keys move to it. AWS
    would update the plan in place, but moto 5.2.5's UpdateUsagePlan truncates a
    fractional rate limit to an integer and stores quota limits as text.
    """

    resource_type = "AWS::ApiGateway::UsagePlan"
    attributes = ("Id",)
    handled_properties = ("UsagePlanName", "Description", "ApiStages", "Throttle", "Quota", "Tags")

    def exists(self, context: ResourceContext, record: dict[str, Any]) -> bool:
        try:
            context.client("apigateway").get_usage_plan(usagePlanId=record["PhysicalResourceId"])
        except ClientError as error:
            if error_code(error) in MISSING_CODES:
                return False
            raise
        return True

    def create(self, context: ResourceContext, properties: dict[str, Any]) -> Provisioned:
        arguments: dict[str, Any] = {
            "name": properties.get("UsagePlanName") or context.physical_name(),
            "apiStages": [_api_stage(stage) for stage in properties.get("ApiStages", [])],
        }
        if "Description" in properties:
            arguments["description"] = properties["Description"]
        if properties.get("Throttle"):
            arguments["throttle"] = _throttle(properties["Throttle"])
        if properties.get("Quota"):
            arguments["quota"] = _quota(properties["Quota"])
        if properties.get("Tags"):
            arguments["tags"] = tags_as_dict(properties["Tags"])
        plan_id = context.client("apigateway").create_usage_plan(**arguments)["id"]
        return Provisioned(physical_id=plan_id, attributes={"Id": plan_id})

    def update(
        self, context: ResourceContext, properties: dict[str, Any], record: dict[str, Any]
    ) -> Provisioned:
        return self.create(context, properties)

    def delete(self, context: ResourceContext, record: dict[str, Any]) -> None:
        try:
            context.client("apigateway").delete_usage_plan(usagePlanId=record["PhysicalResourceId"])
        except ClientError as error:
            if error_code(error) not in MISSING_CODES:
                raise


def _api_stage(stage: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {"apiId": str(stage["ApiId"]), "stage": str(stage["Stage"])}
    if stage.get("Throttle"):
        result["throttle"] = {
            path: _throttle(settings) for path, settings in stage["Throttle"].items()
        }
    return result


def _throttle(throttle: dict[str, Any]) -> dict[str, Any]:
    """Return API Gateway's throttle settings: rateLimit in requests per second (a double)."""
    result: dict[str, Any] = {}
    if "RateLimit" in throttle:
        result["rateLimit"] = float(throttle["RateLimit"])
    if "BurstLimit" in throttle:
        result["burstLimit"] = int(throttle["BurstLimit"])
    return result


def _quota(quota: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    if "Limit" in quota:
        result["limit"] = int(quota["Limit"])
    if "Offset" in quota:
        result["offset"] = int(quota["Offset"])
    if "Period" in quota:
        result["period"] = str(quota["Period"])
    return result


class UsagePlanKeyHandler(ResourceHandler):
    """AWS::ApiGateway::UsagePlanKey: an API key's membership of a usage plan."""

    resource_type = "AWS::ApiGateway::UsagePlanKey"
    attributes = ("Id",)
    required_properties = ("KeyId", "KeyType", "UsagePlanId")
    handled_properties = required_properties

    def exists(self, context: ResourceContext, record: dict[str, Any]) -> bool:
        try:
            context.client("apigateway").get_usage_plan_key(
                usagePlanId=record["Attributes"]["UsagePlanId"], keyId=record["PhysicalResourceId"]
            )
        except ClientError as error:
            if error_code(error) in MISSING_CODES:
                return False
            raise
        return True

    def is_same_resource(self, record: dict[str, Any], result: Provisioned) -> bool:
        return result.physical_id == record["PhysicalResourceId"] and result.attributes.get(
            "UsagePlanId"
        ) == record["Attributes"].get("UsagePlanId")

    def create(self, context: ResourceContext, properties: dict[str, Any]) -> Provisioned:
        plan_id = str(properties["UsagePlanId"])
        key_id = str(properties["KeyId"])
        context.client("apigateway").create_usage_plan_key(
            usagePlanId=plan_id, keyId=key_id, keyType=str(properties["KeyType"])
        )
        return Provisioned(physical_id=key_id, attributes={"Id": key_id, "UsagePlanId": plan_id})

    def update(
        self, context: ResourceContext, properties: dict[str, Any], record: dict[str, Any]
    ) -> Provisioned:
        return self.create(context, properties)

    def delete(self, context: ResourceContext, record: dict[str, Any]) -> None:
        try:
            context.client("apigateway").delete_usage_plan_key(
                usagePlanId=record["Attributes"]["UsagePlanId"], keyId=record["PhysicalResourceId"]
            )
        except ClientError as error:
            if error_code(error) not in MISSING_CODES:
                raise
