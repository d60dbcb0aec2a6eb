"""AWS::Logs::LogGroup."""

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

LOG_GROUP_NAME_MAX_LENGTH = 512


class LogGroupHandler(ResourceHandler):
    resource_type = "AWS::Logs::LogGroup"
    attributes = ("Arn",)
    handled_properties = ("LogGroupName", "RetentionInDays", "KmsKeyId", "Tags")
    arn_format = "arn:aws:logs:{region}:{account}:log-group:{name}:*"

    def exists(self, context: ResourceContext, record: dict[str, Any]) -> bool:
        name = record["PhysicalResourceId"]
        groups = context.client("logs").describe_log_groups(logGroupNamePrefix=name)["logGroups"]
        return any(group["logGroupName"] == name for group in groups)

    def create(self, context: ResourceContext, properties: dict[str, Any]) -> Provisioned:
        logs = context.client("logs")
        name = properties.get("LogGroupName") or context.physical_name(LOG_GROUP_NAME_MAX_LENGTH)
        arguments: dict[str, Any] = {"logGroupName": name}
        if "KmsKeyId" in properties:
            arguments["kmsKeyId"] = properties["KmsKeyId"]
        if properties.get("Tags"):
            arguments["tags"] = tags_as_dict(properties["Tags"])
        try:
            logs.create_log_group(**arguments)
        except ClientError as error:
            if error_code(error) != "ResourceAlreadyExistsException":
                raise
        self._set_retention(context, name, properties, {})
        return self._provisioned(context, name)

    def update(
        self, context: ResourceContext, properties: dict[str, Any], record: dict[str, Any]
    ) -> Provisioned:
        name = properties.get("LogGroupName") or context.physical_name(LOG_GROUP_NAME_MAX_LENGTH)
        if name != record["PhysicalResourceId"]:
            return self.create(context, properties)
        self._set_retention(context, name, properties, record.get("Properties", {}))
        return self._provisioned(context, name)

    def delete(self, context: ResourceContext, record: dict[str, Any]) -> None:
        context.client("logs").delete_log_group(logGroupName=record["PhysicalResourceId"])

    @staticmethod
    def _set_retention(
        context: ResourceContext, name: str, properties: dict[str, Any], previous: dict[str, Any]
    ) -> None:
        if previous and not changed(properties, {"Properties": previous}, "RetentionInDays"):
            return
        logs = context.client("logs")
        if "RetentionInDays" in properties:
            logs.put_retention_policy(
                logGroupName=name, retentionInDays=int(properties["RetentionInDays"])
            )
        elif previous.get("RetentionInDays") is not None:
            logs.delete_retention_policy(logGroupName=name)

    @staticmethod
    def _provisioned(context: ResourceContext, name: str) -> Provisioned:
        arn = f"arn:aws:logs:{context.region}:{context.account_id}:log-group:{name}:*"
        return Provisioned(physical_id=name, attributes={"Arn": arn})
