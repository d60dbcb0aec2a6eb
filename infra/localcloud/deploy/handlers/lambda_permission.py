"""AWS::Lambda::Permission: one statement of a function's resource-based policy."""

from __future__ import annotations

import json
import logging
from typing import Any

from botocore.exceptions import ClientError

from infra.localcloud.deploy.handlers.base import (
    Provisioned,
    ResourceContext,
    ResourceHandler,
    error_code,
)

logger = logging.getLogger(__name__)

STATEMENT_ID_MAX_LENGTH = 100
OPTIONAL_ARGUMENTS = (
    "SourceArn",
    "SourceAccount",
    "EventSourceToken",
    "PrincipalOrgID",
    "FunctionUrlAuthType",
)


class PermissionHandler(ResourceHandler):
    resource_type = "AWS::Lambda::Permission"
    required_properties = ("Action", "FunctionName", "Principal")
    handled_properties = (*required_properties, *OPTIONAL_ARGUMENTS)

    def exists(self, context: ResourceContext, record: dict[str, Any]) -> bool:
        function = record.get("Attributes", {}).get("FunctionName")
        if not function:
            return False
        return record["PhysicalResourceId"] in _statement_ids(context, function)

    def create(self, context: ResourceContext, properties: dict[str, Any]) -> Provisioned:
        statement_id = context.physical_name(STATEMENT_ID_MAX_LENGTH)
        function = properties["FunctionName"]
        arguments: dict[str, Any] = {
            "FunctionName": function,
            "StatementId": statement_id,
            "Action": properties["Action"],
            "Principal": properties["Principal"],
        }
        for key in OPTIONAL_ARGUMENTS:
            if key in properties:
                arguments[key] = str(properties[key])
        # moto appends a statement again on every call, so an existing one is kept as is.
        if statement_id in _statement_ids(context, function):
            logger.info("permission %s of %s already exists", statement_id, function)
        else:
            try:
                context.client("lambda").add_permission(**arguments)
            except ClientError as error:
                if error_code(error) != "ResourceConflictException":
                    raise
                logger.info("permission %s of %s already exists", statement_id, function)
        return Provisioned(physical_id=statement_id, attributes={"FunctionName": function})

    def update(
        self, context: ResourceContext, properties: dict[str, Any], record: dict[str, Any]
    ) -> Provisioned:
        # Every property change replaces the statement, as CloudFormation does.
        self.delete(context, record)
        return self.create(context, properties)

    def delete(self, context: ResourceContext, record: dict[str, Any]) -> None:
        function = record.get("Attributes", {}).get("FunctionName")
        if not function:
            return
        try:
            context.client("lambda").remove_permission(
                FunctionName=function, StatementId=record["PhysicalResourceId"]
            )
        except ClientError as error:
            if error_code(error) != "ResourceNotFoundException":
                raise


def _statement_ids(context: ResourceContext, function: str) -> set[str]:
    try:
        policy = context.client("lambda").get_policy(FunctionName=function)
    except ClientError as error:
        if error_code(error) == "ResourceNotFoundException":
            return set()
        raise
    document = json.loads(policy["Policy"])
    return {statement.get("Sid", "") for statement in document.get("Statement", [])}
