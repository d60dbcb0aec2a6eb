"""What Ref and Fn::GetAtt of a resource return: before, during and after a deployment."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from infra.localcloud.deploy.handlers import HANDLERS
from infra.localcloud.deploy.handlers.base import Provisioned
from infra.localcloud.deploy.intrinsics import LookupFailure
from infra.localcloud.deploy.state import StackRecord


def check_attribute(resource_type: str, attribute: str) -> None:
    """Raise LookupFailure when the handler of resource_type offers no such attribute."""
    handler = HANDLERS.get(resource_type)
    if handler is None or attribute in handler.attributes:
        return
    known = ", ".join(handler.attributes) or "none"
    raise LookupFailure(f"{resource_type} has no attribute {attribute}; known: {known}")


class TemplateLookup:
    """Values from a deployed stack's record, else from logical ids as SAM CLI uses them.

    Without a record (or for a resource it lacks), Ref returns the logical id and GetAtt
    Arn the ARN that a resource of that name would have.
    """

    def __init__(
        self,
        resources: Mapping[str, dict[str, Any]],
        region: str,
        account_id: str,
        stack: StackRecord | None = None,
    ) -> None:
        self.resources = resources
        self.region = region
        self.account_id = account_id
        self.stack = stack

    def ref(self, logical_id: str) -> Any:
        deployed = self._deployed(logical_id)
        if deployed is not None:
            return deployed["PhysicalResourceId"]
        return logical_id

    def get_att(self, logical_id: str, attribute: str) -> Any:
        resource_type = self.resources[logical_id]["Type"]
        check_attribute(resource_type, attribute)
        deployed = self._deployed(logical_id)
        if deployed is not None and attribute in deployed.get("Attributes", {}):
            return deployed["Attributes"][attribute]
        handler = HANDLERS.get(resource_type)
        name = deployed["PhysicalResourceId"] if deployed is not None else logical_id
        if handler is None:
            return name
        return handler.local_attribute(name, attribute, self.region, self.account_id)

    def _deployed(self, logical_id: str) -> dict[str, Any] | None:
        if self.stack is None:
            return None
        record = self.stack.resources.get(logical_id)
        if record is None or record.get("Type") != self.resources[logical_id]["Type"]:
            return None
        return record


class ProvisionedLookup:
    """Values of the resources that the running deployment has created or found so far."""

    def __init__(
        self, resources: Mapping[str, dict[str, Any]], provisioned: Mapping[str, Provisioned]
    ) -> None:
        self.resources = resources
        self.provisioned = provisioned

    def ref(self, logical_id: str) -> Any:
        if logical_id not in self.provisioned:
            raise LookupFailure("the resource is not created yet")
        return self.provisioned[logical_id].physical_id

    def get_att(self, logical_id: str, attribute: str) -> Any:
        check_attribute(self.resources[logical_id]["Type"], attribute)
        if logical_id not in self.provisioned:
            raise LookupFailure("the resource is not created yet")
        attributes = self.provisioned[logical_id].attributes
        if attribute not in attributes:
            raise LookupFailure(f"the deployed resource has no attribute {attribute}")
        return attributes[attribute]
