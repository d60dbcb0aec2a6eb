"""AWS::StepFunctions::StateMachine."""

from __future__ import annotations

import json
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
    tags_as_list,
)

logger = logging.getLogger(__name__)

STATE_MACHINE_NAME_MAX_LENGTH = 80
STATE_MACHINE_ARN = "arn:aws:states:{region}:{account}:stateMachine:{name}"


class StateMachineHandler(ResourceHandler):
    resource_type = "AWS::StepFunctions::StateMachine"
    attributes = ("Arn", "Name", "StateMachineRevisionId")
    required_properties = ("RoleArn",)
    handled_properties = (
        "StateMachineName",
        "Definition",
        "DefinitionString",
        "DefinitionSubstitutions",
        "RoleArn",
        "StateMachineType",
        "LoggingConfiguration",
        "TracingConfiguration",
        "Tags",
    )
    arn_format = STATE_MACHINE_ARN

    def missing_properties(self, properties: dict[str, Any]) -> list[str]:
        missing = super().missing_properties(properties)
        if "Definition" not in properties and "DefinitionString" not in properties:
            missing.append("DefinitionString")
        return missing

    def exists(self, context: ResourceContext, record: dict[str, Any]) -> bool:
        try:
            context.client("stepfunctions").describe_state_machine(
                stateMachineArn=record["PhysicalResourceId"]
            )
        except ClientError as error:
            if error_code(error) == "StateMachineDoesNotExist":
                return False
            raise
        return True

    def create(self, context: ResourceContext, properties: dict[str, Any]) -> Provisioned:
        client = context.client("stepfunctions")
        name = properties.get("StateMachineName") or context.physical_name(
            STATE_MACHINE_NAME_MAX_LENGTH
        )
        # NOTE: LoggingConfiguration and TracingConfiguration are not sent: the local cloud
        # keeps execution history itself and has no CloudWatch Logs delivery or X-Ray.
        arguments: dict[str, Any] = {
            "name": name,
            "definition": definition_string(properties),
            "roleArn": properties["RoleArn"],
            "type": properties.get("StateMachineType", "STANDARD"),
        }
        if properties.get("Tags"):
            arguments["tags"] = [
                {"key": tag["Key"], "value": tag["Value"]}
                for tag in tags_as_list(properties["Tags"])
            ]
        arn = STATE_MACHINE_ARN.format(region=context.region, account=context.account_id, name=name)
        if self.exists(context, {"PhysicalResourceId": arn}):
            logger.info("state machine %s already exists; bringing it to the template", name)
            client.update_state_machine(
                stateMachineArn=arn,
                definition=arguments["definition"],
                roleArn=arguments["roleArn"],
            )
        else:
            arn = client.create_state_machine(**arguments)["stateMachineArn"]
        return self._provisioned(arn, name)

    def update(
        self, context: ResourceContext, properties: dict[str, Any], record: dict[str, Any]
    ) -> Provisioned:
        name = properties.get("StateMachineName") or context.physical_name(
            STATE_MACHINE_NAME_MAX_LENGTH
        )
        arn = record["PhysicalResourceId"]
        if name != record["Attributes"].get("Name") or changed(
            properties, record, "StateMachineType"
        ):
            return self.create(context, properties)
        client = context.client("stepfunctions")
        client.update_state_machine(
            stateMachineArn=arn,
            definition=definition_string(properties),
            roleArn=properties["RoleArn"],
        )
        if changed(properties, record, "Tags"):
            desired = tags_as_dict(properties.get("Tags"))
            current = client.list_tags_for_resource(resourceArn=arn).get("tags", [])
            stale = [tag["key"] for tag in current if tag["key"] not in desired]
            if stale:
                client.untag_resource(resourceArn=arn, tagKeys=stale)
            if desired:
                client.tag_resource(
                    resourceArn=arn,
                    tags=[{"key": key, "value": value} for key, value in desired.items()],
                )
        return self._provisioned(arn, name)

    def delete(self, context: ResourceContext, record: dict[str, Any]) -> None:
        context.client("stepfunctions").delete_state_machine(
            stateMachineArn=record["PhysicalResourceId"]
        )

    @staticmethod
    def _provisioned(arn: str, name: str) -> Provisioned:
        return Provisioned(
            physical_id=arn, attributes={"Arn": arn, "Name": name, "StateMachineRevisionId": arn}
        )


def definition_string(properties: dict[str, Any]) -> str:
    """Return the definition as JSON text with DefinitionSubstitutions applied.

    As CloudFormation does, each ${Key} whose key is a DefinitionSubstitutions entry is
    replaced by its value; other ${...} text stays, for the state language's own use.
    """
    if "DefinitionString" in properties:
        text = str(properties["DefinitionString"])
    else:
        text = json.dumps(properties["Definition"], indent=2)
    for key, value in (properties.get("DefinitionSubstitutions") or {}).items():
        if isinstance(value, bool):
            value = "true" if value else "false"
        text = text.replace("${" + key + "}", str(value))
    return text
