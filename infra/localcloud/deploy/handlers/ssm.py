"""AWS::SSM::Parameter."""

from __future__ import annotations

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

PARAMETER_NAME_MAX_LENGTH = 63


class ParameterHandler(ResourceHandler):
    resource_type = "AWS::SSM::Parameter"
    attributes = ("Type", "Value")
    required_properties = ("Type", "Value")
    handled_properties = (
        *required_properties,
        "Name",
        "Description",
        "AllowedPattern",
        "Tier",
        "DataType",
        "Tags",
    )
    arn_format = "arn:aws:ssm:{region}:{account}:parameter/{name}"

    def exists(self, context: ResourceContext, record: dict[str, Any]) -> bool:
        try:
            context.client("ssm").get_parameter(Name=record["PhysicalResourceId"])
        except ClientError as error:
            if error_code(error) == "ParameterNotFound":
                return False
            raise
        return True

    def create(self, context: ResourceContext, properties: dict[str, Any]) -> Provisioned:
        return self._put(context, properties, {})

    def update(
        self, context: ResourceContext, properties: dict[str, Any], record: dict[str, Any]
    ) -> Provisioned:
        return self._put(context, properties, record.get("Properties", {}))

    def delete(self, context: ResourceContext, record: dict[str, Any]) -> None:
        context.client("ssm").delete_parameter(Name=record["PhysicalResourceId"])

    def _put(
        self, context: ResourceContext, properties: dict[str, Any], previous: dict[str, Any]
    ) -> Provisioned:
        ssm = context.client("ssm")
        name = properties.get("Name") or context.physical_name(PARAMETER_NAME_MAX_LENGTH)
        value = properties["Value"]
        if isinstance(value, list):
            value = ",".join(str(item) for item in value)
        arguments: dict[str, Any] = {
            "Name": name,
            "Value": str(value),
            "Type": properties["Type"],
            "Overwrite": True,
        }
        for key in ("Description", "AllowedPattern", "Tier", "DataType"):
            if key in properties:
                arguments[key] = properties[key]
        ssm.put_parameter(**arguments)
        # PutParameter takes no tags together with Overwrite, so tags are set separately.
        if properties.get("Tags") and (
            not previous or changed(properties, {"Properties": previous}, "Tags")
        ):
            ssm.add_tags_to_resource(
                ResourceType="Parameter",
                ResourceId=name,
                Tags=[
                    {"Key": key, "Value": item}
                    for key, item in tags_as_dict(properties["Tags"]).items()
                ],
            )
        return Provisioned(
            physical_id=name, attributes={"Type": properties["Type"], "Value": str(value)}
        )
