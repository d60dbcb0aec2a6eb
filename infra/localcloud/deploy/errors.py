"""Exceptions of the deployer: a template it cannot deploy, and a cloud call that failed."""

from __future__ import annotations

from pathlib import Path


class TemplateError(Exception):
    """The template is invalid or uses something the local deployer does not support.

    The message starts with the template's path, then names the resource and the property
    when the error belongs to one, e.g. "template.yaml: resource IngestFunction, property
    CodeUri: folder functions/nope does not exist".
    """

    def __init__(
        self,
        template: Path | str,
        reason: str,
        *,
        resource: str | None = None,
        property_name: str | None = None,
        section: str = "resource",
    ) -> None:
        self.template = str(template)
        self.reason = reason
        self.resource = resource
        self.property_name = property_name
        location = format_location(self.template, resource, property_name, section)
        super().__init__(location + reason)


class DeployError(Exception):
    """An AWS API call failed while a resource was created, updated or deleted."""

    def __init__(self, stack_name: str, logical_id: str, resource_type: str, reason: str) -> None:
        self.stack_name = stack_name
        self.logical_id = logical_id
        self.resource_type = resource_type
        self.reason = reason
        super().__init__(
            f"stack {stack_name}: resource {logical_id} ({resource_type}) failed: {reason}"
        )


def format_location(
    template: str, resource: str | None, property_name: str | None, section: str = "resource"
) -> str:
    """Return the "template: resource X, property Y: " prefix of an error message.

    section names what `resource` is: "resource", "output", "parameter" or "condition".
    """
    parts = []
    if resource is not None:
        parts.append(f"{section} {resource}")
    if property_name is not None:
        parts.append(f"property {property_name}")
    where = ", ".join(parts)
    return f"{template}: {where}: " if where else f"{template}: "
