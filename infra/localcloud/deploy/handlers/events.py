"""AWS::Events::Rule: a schedule or event pattern with its targets."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from infra.localcloud.deploy.handlers.base import (
    Provisioned,
    ResourceContext,
    ResourceHandler,
    changed,
    error_code,
    tags_as_dict,
    tags_as_list,
)

RULE_NAME_MAX_LENGTH = 64
DEFAULT_EVENT_BUS = "default"
# Target properties passed to PutTargets as they are; Input is JSON text already.
TARGET_KEYS = (
    "Id",
    "Arn",
    "RoleArn",
    "Input",
    "InputPath",
    "InputTransformer",
    "RetryPolicy",
    "DeadLetterConfig",
    "SqsParameters",
)


class RuleHandler(ResourceHandler):
    resource_type = "AWS::Events::Rule"
    attributes = ("Arn",)
    handled_properties = (
        "Name",
        "Description",
        "ScheduleExpression",
        "EventPattern",
        "State",
        "RoleArn",
        "EventBusName",
        "Targets",
        "Tags",
    )
    arn_format = "arn:aws:events:{region}:{account}:rule/{name}"

    def missing_properties(self, properties: dict[str, Any]) -> list[str]:
        if "ScheduleExpression" in properties or "EventPattern" in properties:
            return []
        return ["ScheduleExpression"]

    def exists(self, context: ResourceContext, record: dict[str, Any]) -> bool:
        try:
            context.client("events").describe_rule(
                Name=record["PhysicalResourceId"],
                EventBusName=record.get("Attributes", {}).get("EventBusName", DEFAULT_EVENT_BUS),
            )
        except ClientError as error:
            if error_code(error) == "ResourceNotFoundException":
                return False
            raise
        return True

    def create(self, context: ResourceContext, properties: dict[str, Any]) -> Provisioned:
        return self._put(context, properties, {})

    def update(
        self, context: ResourceContext, properties: dict[str, Any], record: dict[str, Any]
    ) -> Provisioned:
        name = properties.get("Name") or context.physical_name(RULE_NAME_MAX_LENGTH)
        if name != record["PhysicalResourceId"] or changed(properties, record, "EventBusName"):
            return self._put(context, properties, {})
        return self._put(context, properties, record.get("Properties", {}))

    def delete(self, context: ResourceContext, record: dict[str, Any]) -> None:
        events = context.client("events")
        name = record["PhysicalResourceId"]
        bus = record.get("Attributes", {}).get("EventBusName", DEFAULT_EVENT_BUS)
        targets = events.list_targets_by_rule(Rule=name, EventBusName=bus)["Targets"]
        if targets:
            events.remove_targets(
                Rule=name, EventBusName=bus, Ids=[target["Id"] for target in targets]
            )
        events.delete_rule(Name=name, EventBusName=bus)

    def _put(
        self, context: ResourceContext, properties: dict[str, Any], previous: dict[str, Any]
    ) -> Provisioned:
        events = context.client("events")
        name = properties.get("Name") or context.physical_name(RULE_NAME_MAX_LENGTH)
        bus = properties.get("EventBusName", DEFAULT_EVENT_BUS)
        arguments: dict[str, Any] = {
            "Name": name,
            "EventBusName": bus,
            "State": properties.get("State", "ENABLED"),
        }
        if "ScheduleExpression" in properties:
            arguments["ScheduleExpression"] = properties["ScheduleExpression"]
        if "EventPattern" in properties:
            pattern = properties["EventPattern"]
            arguments["EventPattern"] = pattern if isinstance(pattern, str) else json.dumps(pattern)
        for key in ("Description", "RoleArn"):
            if key in properties:
                arguments[key] = properties[key]
        arn = events.put_rule(**arguments)["RuleArn"]
        if not previous or changed(properties, {"Properties": previous}, "Tags"):
            desired = tags_as_dict(properties.get("Tags"))
            current = events.list_tags_for_resource(ResourceARN=arn).get("Tags", [])
            stale = [tag["Key"] for tag in current if tag["Key"] not in desired]
            if stale:
                events.untag_resource(ResourceARN=arn, TagKeys=stale)
            if desired:
                events.tag_resource(ResourceARN=arn, Tags=tags_as_list(desired))

        targets = [_target(target) for target in properties.get("Targets", [])]
        desired_ids = {target["Id"] for target in targets}
        current = events.list_targets_by_rule(Rule=name, EventBusName=bus)["Targets"]
        stale = [target["Id"] for target in current if target["Id"] not in desired_ids]
        if stale:
            events.remove_targets(Rule=name, EventBusName=bus, Ids=stale)
        if targets:
            events.put_targets(Rule=name, EventBusName=bus, Targets=targets)
        return Provisioned(physical_id=name, attributes={"Arn": arn, "EventBusName": bus})


def _target(template_target: dict[str, Any]) -> dict[str, Any]:
    target = {key: template_target[key] for key in TARGET_KEYS if key in template_target}
    if "Input" in target and not isinstance(target["Input"], str):
        target["Input"] = json.dumps(target["Input"])
    return target
