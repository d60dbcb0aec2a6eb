"""AWS::Scheduler::Schedule: an EventBridge Scheduler schedule (SAM's ScheduleV2 events)."""

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
)

logger = logging.getLogger(__name__)

SCHEDULE_NAME_MAX_LENGTH = 64
DEFAULT_GROUP = "default"
OPTIONAL_ARGUMENTS = (
    "Description",
    "ScheduleExpressionTimezone",
    "StartDate",
    "EndDate",
    "State",
    "KmsKeyArn",
)


class ScheduleHandler(ResourceHandler):
    resource_type = "AWS::Scheduler::Schedule"
    attributes = ("Arn",)
    required_properties = ("ScheduleExpression", "FlexibleTimeWindow", "Target")
    handled_properties = (*required_properties, "Name", "GroupName", *OPTIONAL_ARGUMENTS)
    arn_format = "arn:aws:scheduler:{region}:{account}:schedule/default/{name}"

    def exists(self, context: ResourceContext, record: dict[str, Any]) -> bool:
        try:
            context.client("scheduler").get_schedule(
                Name=record["PhysicalResourceId"],
                GroupName=record.get("Attributes", {}).get("GroupName", DEFAULT_GROUP),
            )
        except ClientError as error:
            if error_code(error) == "ResourceNotFoundException":
                return False
            raise
        return True

    def create(self, context: ResourceContext, properties: dict[str, Any]) -> Provisioned:
        client = context.client("scheduler")
        arguments = self._arguments(context, properties)
        try:
            arn = client.create_schedule(**arguments)["ScheduleArn"]
        except ClientError as error:
            if error_code(error) != "ConflictException":
                raise
            logger.info(
                "schedule %s already exists; bringing it to the template", arguments["Name"]
            )
            arn = client.update_schedule(**arguments)["ScheduleArn"]
        return self._provisioned(arguments, arn)

    def update(
        self, context: ResourceContext, properties: dict[str, Any], record: dict[str, Any]
    ) -> Provisioned:
        arguments = self._arguments(context, properties)
        if arguments["Name"] != record["PhysicalResourceId"] or changed(
            properties, record, "GroupName"
        ):
            return self.create(context, properties)
        arn = context.client("scheduler").update_schedule(**arguments)["ScheduleArn"]
        return self._provisioned(arguments, arn)

    def delete(self, context: ResourceContext, record: dict[str, Any]) -> None:
        context.client("scheduler").delete_schedule(
            Name=record["PhysicalResourceId"],
            GroupName=record.get("Attributes", {}).get("GroupName", DEFAULT_GROUP),
        )

    @staticmethod
    def _arguments(context: ResourceContext, properties: dict[str, Any]) -> dict[str, Any]:
        window = dict(properties["FlexibleTimeWindow"])
        if "MaximumWindowInMinutes" in window:
            window["MaximumWindowInMinutes"] = int(window["MaximumWindowInMinutes"])
        arguments: dict[str, Any] = {
            "Name": properties.get("Name") or context.physical_name(SCHEDULE_NAME_MAX_LENGTH),
            "GroupName": properties.get("GroupName", DEFAULT_GROUP),
            "ScheduleExpression": properties["ScheduleExpression"],
            "FlexibleTimeWindow": window,
            "Target": properties["Target"],
        }
        for key in OPTIONAL_ARGUMENTS:
            if key in properties:
                arguments[key] = properties[key]
        return arguments

    @staticmethod
    def _provisioned(arguments: dict[str, Any], arn: str) -> Provisioned:
        return Provisioned(
            physical_id=arguments["Name"],
            attributes={"Arn": arn, "GroupName": arguments["GroupName"]},
        )
