"""Load a CloudFormation or SAM template from YAML or JSON and check its top-level shape."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cfnlint.decode import decode

from infra.localcloud.deploy.errors import TemplateError

SAM_TRANSFORM = "AWS::Serverless-2016-10-31"
SECTIONS = (
    "AWSTemplateFormatVersion",
    "Description",
    "Metadata",
    "Parameters",
    "Rules",
    "Mappings",
    "Conditions",
    "Transform",
    "Globals",
    "Resources",
    "Outputs",
)
RESOURCE_ATTRIBUTES = (
    "Type",
    "Properties",
    "DependsOn",
    "Condition",
    "Metadata",
    "DeletionPolicy",
    "UpdateReplacePolicy",
    "UpdatePolicy",
    "CreationPolicy",
    "Connectors",
    "IgnoreGlobals",
)


def load_template(path: Path) -> dict[str, Any]:
    """Read the template at path and return it as plain dicts, lists and scalars.

    cfn-lint's decoder understands the short forms (!Ref, !Sub, !GetAtt A.B, ...) and
    rejects duplicate keys. Raises TemplateError when the file is missing, is not valid
    YAML or JSON, or lacks a Resources section of named resources with a Type each.
    """
    if not path.is_file():
        raise TemplateError(path, "template file not found")
    decoded, problems = decode(str(path))
    if problems:
        first = problems[0]
        raise TemplateError(
            path, f"invalid YAML or JSON at line {first.linenumber}: {first.message}"
        )
    if not isinstance(decoded, dict):
        raise TemplateError(path, "the template must be a mapping of sections")

    template = to_plain(decoded)
    check_shape(path, template)
    return template


def to_plain(value: Any) -> Any:
    """Copy the decoder's node classes into built-in dicts, lists and scalars."""
    if isinstance(value, dict):
        return {str(key): to_plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [to_plain(item) for item in value]
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    return value


def check_shape(path: Path, template: dict[str, Any]) -> None:
    """Raise TemplateError unless the sections and resource entries have the right shape."""
    for section in template:
        if section not in SECTIONS:
            raise TemplateError(
                path, f"unknown top-level section {section!r}; known: {', '.join(SECTIONS)}"
            )

    resources = template.get("Resources")
    if resources is None:
        raise TemplateError(path, "the Resources section is missing")
    if not isinstance(resources, dict) or not resources:
        raise TemplateError(path, "the Resources section must map logical ids to resources")

    for section in ("Parameters", "Mappings", "Conditions", "Outputs", "Globals"):
        if section in template and not isinstance(template[section], dict):
            raise TemplateError(path, f"the {section} section must be a mapping")

    for logical_id, resource in resources.items():
        if not logical_id.isalnum():
            raise TemplateError(
                path, "a logical id may contain only letters and digits", resource=logical_id
            )
        if not isinstance(resource, dict):
            raise TemplateError(path, "must be a mapping with a Type", resource=logical_id)
        if "Type" not in resource:
            raise TemplateError(path, "missing", resource=logical_id, property_name="Type")
        if not isinstance(resource["Type"], str):
            raise TemplateError(path, "must be a string", resource=logical_id, property_name="Type")
        if not isinstance(resource.get("Properties", {}), dict):
            raise TemplateError(
                path, "must be a mapping", resource=logical_id, property_name="Properties"
            )
        for attribute in resource:
            if attribute not in RESOURCE_ATTRIBUTES:
                raise TemplateError(
                    path,
                    f"unknown resource attribute; known: {', '.join(RESOURCE_ATTRIBUTES)}",
                    resource=logical_id,
                    property_name=attribute,
                )


def transforms_of(template: dict[str, Any]) -> list[str]:
    """Return the template's Transform entries as a list (empty when there is none)."""
    transform = template.get("Transform")
    if transform is None:
        return []
    if isinstance(transform, str):
        return [transform]
    if isinstance(transform, list):
        return [str(item) for item in transform]
    return [str(transform)]
