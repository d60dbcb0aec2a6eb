"""CloudFormation intrinsic functions, conditions and pseudo parameters.

The resolver replaces Ref, Fn::GetAtt, Fn::Sub, Fn::Join, Fn::Select, Fn::Split, Fn::If,
Fn::FindInMap, Fn::GetAZs and Fn::Base64 in a value. What a Ref or Fn::GetAtt of a resource
returns comes from a ReferenceLookup, so the same resolver serves a deployment (physical ids)
and `mhpe invoke` (logical ids, as SAM CLI uses them).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from infra.localcloud.deploy.errors import TemplateError


class _NoValue:
    """The value of Ref AWS::NoValue. The property or list item that contains it is removed."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = _NoValue()
SUB_PATTERN = re.compile(r"\$\{([^}]*)\}")
SUPPORTED_FUNCTIONS = (
    "Ref",
    "Fn::GetAtt",
    "Fn::Sub",
    "Fn::Join",
    "Fn::Select",
    "Fn::Split",
    "Fn::If",
    "Fn::FindInMap",
    "Fn::GetAZs",
    "Fn::Base64",
)
CONDITION_FUNCTIONS = ("Fn::Equals", "Fn::And", "Fn::Or", "Fn::Not", "Condition")


class LookupFailure(Exception):
    """A ReferenceLookup cannot give a value; the resolver adds where it was asked for."""


@dataclass(frozen=True)
class Location:
    """Position of a value in the template, for error messages."""

    section: str  # "resource", "output", "condition" or "parameter"
    name: str
    property_name: str | None = None


class ReferenceLookup(Protocol):
    """Source of the values that Ref and Fn::GetAtt return for resources.

    Its methods raise LookupFailure when they have no value.
    """

    def ref(self, logical_id: str) -> Any: ...

    def get_att(self, logical_id: str, attribute: str) -> Any: ...


def pseudo_parameters(region: str, account_id: str, stack_name: str) -> dict[str, Any]:
    """Return the pseudo parameters of a stack in the aws partition."""
    return {
        "AWS::Region": region,
        "AWS::AccountId": account_id,
        "AWS::StackName": stack_name,
        "AWS::StackId": (f"arn:aws:cloudformation:{region}:{account_id}:stack/{stack_name}/local"),
        "AWS::Partition": "aws",
        "AWS::URLSuffix": "amazonaws.com",
        "AWS::NotificationARNs": [],
        "AWS::NoValue": NO_VALUE,
    }


def intrinsic_name(value: Any) -> str | None:
    """Return the function name when value is a one-key intrinsic such as {"Ref": ...}."""
    if isinstance(value, dict) and len(value) == 1:
        (key,) = value
        if key == "Ref" or key.startswith("Fn::"):
            return key
    return None


class IntrinsicResolver:
    """Resolve intrinsic functions against parameters, conditions, mappings and resources."""

    def __init__(
        self,
        template_path: Path,
        *,
        parameters: Mapping[str, Any],
        conditions: Mapping[str, bool],
        mappings: Mapping[str, Any],
        resource_ids: Collection[str],
        lookup: ReferenceLookup,
        region: str,
        inactive_ids: Collection[str] = (),
        lenient: bool = False,
    ) -> None:
        self.template_path = template_path
        self.parameters = parameters
        self.conditions = conditions
        self.mappings = mappings
        self.resource_ids = resource_ids
        self.inactive_ids = inactive_ids
        self.lookup = lookup
        self.region = region
        # Lenient resolution returns a placeholder where a value from a placeholder cannot
        # be indexed, so that checking a template before deployment has no false errors.
        self.lenient = lenient

    def resolve(self, value: Any, where: Location) -> Any:
        """Return value with every intrinsic function replaced; NO_VALUE items removed."""
        name = intrinsic_name(value)
        if name is not None:
            return self._call(name, value[name], where)
        if isinstance(value, dict):
            resolved = {}
            for key, item in value.items():
                result = self.resolve(item, where)
                if result is not NO_VALUE:
                    resolved[key] = result
            return resolved
        if isinstance(value, list):
            items = [self.resolve(item, where) for item in value]
            return [item for item in items if item is not NO_VALUE]
        return value

    def error(self, where: Location, reason: str) -> TemplateError:
        return TemplateError(
            self.template_path,
            reason,
            resource=where.name,
            property_name=where.property_name,
            section=where.section,
        )

    def _call(self, name: str, argument: Any, where: Location) -> Any:
        if name == "Ref":
            return self._ref(argument, where)
        if name == "Fn::GetAtt":
            return self._get_att(argument, where)
        if name == "Fn::Sub":
            return self._sub(argument, where)
        if name == "Fn::Join":
            return self._join(argument, where)
        if name == "Fn::Select":
            return self._select(argument, where)
        if name == "Fn::Split":
            return self._split(argument, where)
        if name == "Fn::If":
            return self._if(argument, where)
        if name == "Fn::FindInMap":
            return self._find_in_map(argument, where)
        if name == "Fn::GetAZs":
            return [f"{self.region}{zone}" for zone in "abc"]
        if name == "Fn::Base64":
            text = self._string(self.resolve(argument, where), name, where)
            return base64.b64encode(text.encode()).decode()
        raise self.error(
            where,
            f"intrinsic function {name} is not supported by the local deployer; "
            f"supported: {', '.join(SUPPORTED_FUNCTIONS)}",
        )

    def _ref(self, target: Any, where: Location) -> Any:
        if not isinstance(target, str):
            raise self.error(where, f"Ref takes a name, not {target!r}")
        if target in self.parameters:
            return self.parameters[target]
        if target in self.resource_ids:
            try:
                return self.lookup.ref(target)
            except LookupFailure as failure:
                raise self.error(where, f"Ref to {target}: {failure}") from None
        raise self.error(where, f"Ref to {target}, {self._missing_reason(target)}")

    def _get_att(self, argument: Any, where: Location) -> Any:
        if isinstance(argument, str):
            logical_id, _, attribute = argument.partition(".")
        elif isinstance(argument, list) and len(argument) == 2:
            logical_id = argument[0]
            attribute = self.resolve(argument[1], where)
        else:
            raise self.error(where, f"Fn::GetAtt takes [resource, attribute], not {argument!r}")
        if not isinstance(logical_id, str) or not isinstance(attribute, str) or not attribute:
            raise self.error(where, f"Fn::GetAtt takes [resource, attribute], not {argument!r}")
        if logical_id not in self.resource_ids:
            reason = self._missing_reason(logical_id)
            raise self.error(where, f"Fn::GetAtt {logical_id}.{attribute}: {reason}")
        try:
            return self.lookup.get_att(logical_id, attribute)
        except LookupFailure as failure:
            raise self.error(where, f"Fn::GetAtt {logical_id}.{attribute}: {failure}") from None

    def _missing_reason(self, name: str) -> str:
        if name in self.inactive_ids:
            return "a resource whose Condition is false, so it is not created"
        return "which is neither a parameter nor a resource of the template"

    def _sub(self, argument: Any, where: Location) -> str:
        if isinstance(argument, str):
            text, variables = argument, {}
        elif (
            isinstance(argument, list)
            and len(argument) == 2
            and isinstance(argument[0], str)
            and isinstance(argument[1], dict)
        ):
            text = argument[0]
            variables = {key: self.resolve(item, where) for key, item in argument[1].items()}
        else:
            raise self.error(
                where, f"Fn::Sub takes a string or [string, variables], not {argument!r}"
            )

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                value = variables[name]
            elif name in self.parameters or "." not in name:
                value = self._ref(name, where)
            else:
                value = self._get_att(name, where)
            return self._string(value, f"Fn::Sub variable ${{{name}}}", where)

        return SUB_PATTERN.sub(replace, text)

    def _join(self, argument: Any, where: Location) -> str:
        if not isinstance(argument, list) or len(argument) != 2:
            raise self.error(where, f"Fn::Join takes [delimiter, list], not {argument!r}")
        delimiter = self._string(self.resolve(argument[0], where), "Fn::Join delimiter", where)
        items = self.resolve(argument[1], where)
        if not isinstance(items, list):
            raise self.error(where, f"Fn::Join needs a list of values, not {items!r}")
        return delimiter.join(self._string(item, "Fn::Join item", where) for item in items)

    def _select(self, argument: Any, where: Location) -> Any:
        if not isinstance(argument, list) or len(argument) != 2:
            raise self.error(where, f"Fn::Select takes [index, list], not {argument!r}")
        index = self.resolve(argument[0], where)
        items = self.resolve(argument[1], where)
        try:
            position = int(index)
        except (TypeError, ValueError):
            raise self.error(where, f"Fn::Select index {index!r} is not an integer") from None
        if not isinstance(items, list):
            if self.lenient and isinstance(items, str):
                return items
            raise self.error(where, f"Fn::Select needs a list, not {items!r}")
        if not 0 <= position < len(items):
            if self.lenient:
                return f"<item {position}>"
            raise self.error(
                where, f"Fn::Select index {position} is out of range for a list of {len(items)}"
            )
        return items[position]

    def _split(self, argument: Any, where: Location) -> list[str]:
        if not isinstance(argument, list) or len(argument) != 2:
            raise self.error(where, f"Fn::Split takes [delimiter, string], not {argument!r}")
        delimiter = self._string(self.resolve(argument[0], where), "Fn::Split delimiter", where)
        text = self._string(self.resolve(argument[1], where), "Fn::Split source", where)
        return text.split(delimiter)

    def _if(self, argument: Any, where: Location) -> Any:
        if not isinstance(argument, list) or len(argument) != 3 or not isinstance(argument[0], str):
            raise self.error(
                where, f"Fn::If takes [condition, if_true, if_false], not {argument!r}"
            )
        condition = argument[0]
        if condition not in self.conditions:
            raise self.error(where, f"Fn::If names condition {condition}, which is not declared")
        chosen = argument[1] if self.conditions[condition] else argument[2]
        return self.resolve(chosen, where)

    def _find_in_map(self, argument: Any, where: Location) -> Any:
        if not isinstance(argument, list) or len(argument) != 3:
            raise self.error(
                where,
                f"Fn::FindInMap takes [map, top-level key, second-level key], not {argument!r}",
            )
        keys = [
            self._string(self.resolve(item, where), "Fn::FindInMap key", where) for item in argument
        ]
        value: Any = self.mappings
        for depth, key in enumerate(keys):
            if not isinstance(value, dict) or key not in value:
                path = ".".join(keys[: depth + 1])
                raise self.error(where, f"Fn::FindInMap: {path} is not in the Mappings section")
            value = value[key]
        return value

    def _string(self, value: Any, value_name: str, where: Location) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (str, int, float)):
            return str(value)
        raise self.error(where, f"{value_name} must be a string, not {value!r}")


def evaluate_conditions(
    template_path: Path, template: Mapping[str, Any], parameters: Mapping[str, Any], region: str
) -> dict[str, bool]:
    """Evaluate every entry of the Conditions section; raise TemplateError naming a bad one."""
    definitions = template.get("Conditions", {}) or {}
    results: dict[str, bool] = {}
    evaluating: list[str] = []

    def evaluate(name: str, where: Location) -> bool:
        if name in results:
            return results[name]
        if name not in definitions:
            raise TemplateError(
                template_path,
                f"condition {name} is not declared in the Conditions section",
                resource=where.name,
                property_name=where.property_name,
                section=where.section,
            )
        if name in evaluating:
            cycle = " -> ".join([*evaluating, name])
            raise TemplateError(template_path, f"conditions refer to each other: {cycle}")
        evaluating.append(name)
        results[name] = condition_value(definitions[name], Location("condition", name))
        evaluating.pop()
        return results[name]

    resolver = IntrinsicResolver(
        template_path,
        parameters=parameters,
        conditions={},
        mappings=template.get("Mappings", {}) or {},
        resource_ids=(),
        lookup=_NoResources(),
        region=region,
    )

    def condition_value(value: Any, where: Location) -> bool:
        if isinstance(value, dict) and len(value) == 1:
            (key,) = value
            argument = value[key]
            if key == "Condition":
                return evaluate(str(argument), where)
            if key == "Fn::Equals":
                if not isinstance(argument, list) or len(argument) != 2:
                    raise resolver.error(where, f"Fn::Equals takes two values, not {argument!r}")
                left, right = (_comparable(resolver.resolve(item, where)) for item in argument)
                return left == right
            if key in ("Fn::And", "Fn::Or"):
                if not isinstance(argument, list) or not 2 <= len(argument) <= 10:
                    raise resolver.error(where, f"{key} takes 2 to 10 conditions, not {argument!r}")
                values = [condition_value(item, where) for item in argument]
                return all(values) if key == "Fn::And" else any(values)
            if key == "Fn::Not":
                if not isinstance(argument, list) or len(argument) != 1:
                    raise resolver.error(where, f"Fn::Not takes one condition, not {argument!r}")
                return not condition_value(argument[0], where)
        raise resolver.error(
            where,
            f"a condition must be one of {', '.join(CONDITION_FUNCTIONS)}, not {value!r}",
        )

    for name in definitions:
        evaluate(name, Location("condition", name))
    return results


def _comparable(value: Any) -> Any:
    # CloudFormation compares parameter values as strings: "3" equals 3, "true" equals true.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return value


class _NoResources:
    def ref(self, logical_id: str) -> Any:
        raise LookupFailure("conditions cannot refer to resources")

    def get_att(self, logical_id: str, attribute: str) -> Any:
        raise LookupFailure("conditions cannot refer to resources")
