"""Template parameters: overrides merged with defaults and checked against their constraints."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from infra.localcloud.deploy.errors import TemplateError

LIST_TYPES = ("CommaDelimitedList", "List<")
SSM_TYPE_PREFIX = "AWS::SSM::Parameter::Value<"


def parameter_text(value: Any) -> str:
    """Return a parameter value as the string CloudFormation receives."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(parameter_text(item) for item in value)
    return str(value)


def resolve_parameters(
    template_path: Path, template: Mapping[str, Any], overrides: Mapping[str, str]
) -> dict[str, Any]:
    """Return each declared parameter's value: the override, else the Default.

    Values are strings, as CloudFormation passes them; CommaDelimitedList and List<...>
    parameters become lists of strings. Raises TemplateError naming the parameter when a
    value is missing or breaks AllowedValues, AllowedPattern, length or value limits, and
    when an override names no declared parameter.
    """
    declared = template.get("Parameters", {}) or {}
    for name in overrides:
        if name not in declared:
            known = ", ".join(sorted(declared)) or "none"
            raise TemplateError(
                template_path,
                f"parameter override {name} is not declared in Parameters; declared: {known}",
            )

    values: dict[str, Any] = {}
    for name, definition in declared.items():
        if not isinstance(definition, dict) or "Type" not in definition:
            raise TemplateError(
                template_path, "must be a mapping with a Type", resource=name, section="parameter"
            )
        if name in overrides:
            text = parameter_text(overrides[name])
        elif "Default" in definition:
            text = parameter_text(definition["Default"])
        else:
            raise TemplateError(
                template_path,
                "no value given and no Default declared; pass it as a parameter override",
                resource=name,
                section="parameter",
            )
        values[name] = _checked_value(template_path, name, definition, text)
    return values


def _checked_value(template_path: Path, name: str, definition: dict[str, Any], text: str) -> Any:
    parameter_type = str(definition["Type"])

    def fail(reason: str) -> TemplateError:
        return TemplateError(template_path, reason, resource=name, section="parameter")

    if parameter_type.startswith(SSM_TYPE_PREFIX):
        raise fail(f"type {parameter_type} is not supported by the local deployer")
    is_list = parameter_type.startswith(LIST_TYPES)
    items = [item.strip() for item in text.split(",")] if is_list else [text]

    allowed = definition.get("AllowedValues")
    if allowed is not None:
        allowed_texts = [parameter_text(item) for item in allowed]
        for item in items:
            if item not in allowed_texts:
                raise fail(f"value {item!r} is not one of the AllowedValues {allowed_texts}")

    pattern = definition.get("AllowedPattern")
    if pattern is not None:
        for item in items:
            if re.fullmatch(str(pattern), item) is None:
                raise fail(f"value {item!r} does not match the AllowedPattern {pattern!r}")

    for item in items:
        if "MinLength" in definition and len(item) < int(definition["MinLength"]):
            raise fail(f"value {item!r} is shorter than MinLength {definition['MinLength']}")
        if "MaxLength" in definition and len(item) > int(definition["MaxLength"]):
            raise fail(f"value {item!r} is longer than MaxLength {definition['MaxLength']}")

    if parameter_type in ("Number", "List<Number>"):
        for item in items:
            try:
                number = float(item)
            except ValueError:
                raise fail(f"value {item!r} is not a number") from None
            if "MinValue" in definition and number < float(definition["MinValue"]):
                raise fail(f"value {item} is below MinValue {definition['MinValue']}")
            if "MaxValue" in definition and number > float(definition["MaxValue"]):
                raise fail(f"value {item} is above MaxValue {definition['MaxValue']}")

    return items if is_list else text


def is_no_echo(template: Mapping[str, Any], name: str) -> bool:
    """Return whether the parameter is declared NoEcho, so its value is never shown."""
    definition = (template.get("Parameters", {}) or {}).get(name, {})
    return str(definition.get("NoEcho", "false")).lower() == "true"
