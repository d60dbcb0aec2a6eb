"""AWS::Lambda::EventInvokeConfig: retries, maximum event age and destinations."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from infra.localcloud.deploy.handlers.base import (
    Provisioned,
    ResourceContext,
    ResourceHandler,
    error_code,
)


class EventInvokeConfigHandler(ResourceHandler):
    resource_type = "AWS::Lambda::EventInvokeConfig"
    required_properties = ("FunctionName", "Qualifier")
    handled_properties = (
        "FunctionName",
        "Qualifier",
        "MaximumRetryAttempts",
        "MaximumEventAgeInSeconds",
        "DestinationConfig",
    )

    def exists(self, context: ResourceContext, record: dict[str, Any]) -> bool:
        function, qualifier = _target(record)
        try:
            context.client("lambda").get_function_event_invoke_config(
                FunctionName=function, Qualifier=qualifier
            )
        except ClientError as error:
            if error_code(error) == "ResourceNotFoundException":
                return False
            raise
        return True

    def create(self, context: ResourceContext, properties: dict[str, Any]) -> Provisioned:
        client = context.client("lambda")
        function = properties["FunctionName"]
        qualifier = str(properties["Qualifier"])
        arguments: dict[str, Any] = {"FunctionName": function, "Qualifier": qualifier}
        for key in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds"):
            if key in properties:
                arguments[key] = int(properties[key])
        if properties.get("DestinationConfig"):
            arguments["DestinationConfig"] = properties["DestinationConfig"]
        # moto appends a configuration on every put, so an old one is removed first.
        try:
            client.delete_function_event_invoke_config(FunctionName=function, Qualifier=qualifier)
        except ClientError as error:
            if error_code(error) != "ResourceNotFoundException":
                raise
        client.put_function_event_invoke_config(**arguments)
        return Provisioned(physical_id=f"{function}:{qualifier}")

    def update(
        self, context: ResourceContext, properties: dict[str, Any], record: dict[str, Any]
    ) -> Provisioned:
        return self.create(context, properties)

    def delete(self, context: ResourceContext, record: dict[str, Any]) -> None:
        function, qualifier = _target(record)
        context.client("lambda").delete_function_event_invoke_config(
            FunctionName=function, Qualifier=qualifier
        )


def _target(record: dict[str, Any]) -> tuple[str, str]:
    function, _, qualifier = record["PhysicalResourceId"].rpartition(":")
    return function, qualifier
