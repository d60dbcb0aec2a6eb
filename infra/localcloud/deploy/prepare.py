"""From a template file to checked CloudFormation: load, package, transform, validate."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.localcloud.deploy.artifacts import ArtifactRegistry, replace_local_paths
from infra.localcloud.deploy.errors import TemplateError
from infra.localcloud.deploy.handlers import HANDLERS
from infra.localcloud.deploy.intrinsics import (
    NO_VALUE,
    IntrinsicResolver,
    Location,
    evaluate_conditions,
    pseudo_parameters,
)
from infra.localcloud.deploy.loader import load_template
from infra.localcloud.deploy.lookups import TemplateLookup
from infra.localcloud.deploy.parameters import parameter_text, resolve_parameters
from infra.localcloud.deploy.transform import expand_sam


@dataclass
class PreparedTemplate:
    """A template expanded into CloudFormation, with everything a deployment needs to know."""

    path: Path
    template: dict[str, Any]
    artifacts: ArtifactRegistry
    # Declared parameters and pseudo parameters, by name.
    parameters: dict[str, Any]
    conditions: dict[str, bool]
    # Resources whose Condition holds, in template order, and those whose Condition fails.
    active_ids: list[str]
    inactive_ids: list[str]
    region: str
    account_id: str

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return self.template["Resources"]

    def resolver(self, lookup: Any, *, lenient: bool = False) -> IntrinsicResolver:
        """Return a resolver of this template's intrinsics, with resource values from lookup."""
        return IntrinsicResolver(
            self.path,
            parameters=self.parameters,
            conditions=self.conditions,
            mappings=self.template.get("Mappings", {}) or {},
            resource_ids=set(self.active_ids),
            inactive_ids=set(self.inactive_ids),
            lookup=lookup,
            region=self.region,
            lenient=lenient,
        )


def prepare_template(
    template_path: Path,
    *,
    stack_name: str,
    parameter_overrides: Mapping[str, str],
    region: str,
    account_id: str,
    require_handlers: bool,
) -> PreparedTemplate:
    """Load, package and transform the template, then check it before anything is created.

    With require_handlers, every resource type needs a handler and its required
    properties. Every Ref, Fn::GetAtt and Fn::Sub must name a parameter or a resource.
    Raises TemplateError naming the resource and property at fault.
    """
    original = load_template(template_path)
    packaged = copy.deepcopy(original)
    artifacts = ArtifactRegistry(template_path)
    replace_local_paths(packaged, artifacts)

    declared = resolve_parameters(template_path, original, parameter_overrides)
    pseudo = pseudo_parameters(region, account_id, stack_name)
    sam_values: dict[str, Any] = {name: parameter_text(value) for name, value in declared.items()}
    sam_values.update({name: value for name, value in pseudo.items() if isinstance(value, str)})
    translated = expand_sam(template_path, packaged, sam_values, region)

    parameters = {**declared, **pseudo}
    conditions = evaluate_conditions(template_path, translated, parameters, region)
    resources = translated.get("Resources", {})
    active_ids, inactive_ids = _split_by_condition(template_path, resources, conditions)
    prepared = PreparedTemplate(
        path=template_path,
        template=translated,
        artifacts=artifacts,
        parameters=parameters,
        conditions=conditions,
        active_ids=active_ids,
        inactive_ids=inactive_ids,
        region=region,
        account_id=account_id,
    )
    if require_handlers:
        _check_handlers(prepared)
    _check_references(prepared)
    return prepared


def _split_by_condition(
    template_path: Path, resources: dict[str, dict[str, Any]], conditions: dict[str, bool]
) -> tuple[list[str], list[str]]:
    active, inactive = [], []
    for logical_id, resource in resources.items():
        condition = resource.get("Condition")
        if condition is None:
            active.append(logical_id)
            continue
        if condition not in conditions:
            raise TemplateError(
                template_path,
                f"names condition {condition}, which is not declared in Conditions",
                resource=logical_id,
                property_name="Condition",
            )
        (active if conditions[condition] else inactive).append(logical_id)
    return active, inactive


def _check_handlers(prepared: PreparedTemplate) -> None:
    supported = ", ".join(sorted(HANDLERS))
    for logical_id in prepared.active_ids:
        resource = prepared.resources[logical_id]
        handler = HANDLERS.get(resource["Type"])
        if handler is None:
            raise TemplateError(
                prepared.path,
                f"{resource['Type']} is not supported by the local deployer; supported: "
                f"{supported}",
                resource=logical_id,
                property_name="Type",
            )
        for name in handler.missing_properties(resource.get("Properties", {}) or {}):
            raise TemplateError(
                prepared.path,
                f"required by {resource['Type']} but missing",
                resource=logical_id,
                property_name=name,
            )


def _check_references(prepared: PreparedTemplate) -> None:
    """Resolve every property and output once with placeholders, so bad references fail now."""
    lookup = TemplateLookup(prepared.resources, prepared.region, prepared.account_id)
    resolver = prepared.resolver(lookup, lenient=True)
    for logical_id in prepared.active_ids:
        properties = prepared.resources[logical_id].get("Properties", {}) or {}
        for name, value in properties.items():
            resolver.resolve(value, Location("resource", logical_id, name))
    for name, output in (prepared.template.get("Outputs", {}) or {}).items():
        if not isinstance(output, dict) or "Value" not in output:
            raise TemplateError(
                prepared.path, "missing", resource=name, property_name="Value", section="output"
            )
        condition = output.get("Condition")
        if condition is not None and condition not in prepared.conditions:
            raise TemplateError(
                prepared.path,
                f"names condition {condition}, which is not declared in Conditions",
                resource=name,
                property_name="Condition",
                section="output",
            )
        if condition is None or prepared.conditions[condition]:
            resolver.resolve(output["Value"], Location("output", name, "Value"))


def resolve_properties(
    resolver: IntrinsicResolver, logical_id: str, properties: Mapping[str, Any]
) -> dict[str, Any]:
    """Resolve each property, naming it in errors; drop those that resolve to AWS::NoValue."""
    resolved = {}
    for name, value in properties.items():
        result = resolver.resolve(value, Location("resource", logical_id, name))
        if result is not NO_VALUE:
            resolved[name] = result
    return resolved
