"""The order in which resources are created: dependencies from Ref, GetAtt, Sub and DependsOn."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.localcloud.deploy.errors import TemplateError
from infra.localcloud.deploy.intrinsics import SUB_PATTERN, intrinsic_name

MAIN = "main"
DEFERRED = "deferred"


@dataclass(frozen=True)
class Step:
    """One step of a deployment: a resource, or its deferred properties."""

    logical_id: str
    phase: str  # MAIN or DEFERRED


def referenced_names(value: Any, conditions: Mapping[str, bool]) -> set[str]:
    """Return the names that value refers to through Ref, Fn::GetAtt and Fn::Sub.

    Only the branch of an Fn::If that its condition selects counts. The names include
    parameters and pseudo parameters; callers keep the resource ids.
    """
    names: set[str] = set()
    name = intrinsic_name(value)
    if name == "Ref" and isinstance(value[name], str):
        names.add(value[name])
    elif name == "Fn::GetAtt":
        argument = value[name]
        if isinstance(argument, str):
            names.add(argument.split(".", 1)[0])
        elif isinstance(argument, list) and argument and isinstance(argument[0], str):
            names.add(argument[0])
            names |= referenced_names(argument[1:], conditions)
    elif name == "Fn::Sub":
        argument = value[name]
        text, variables = (
            (argument, {}) if isinstance(argument, str) else (argument[0], argument[1])
        )
        for match in SUB_PATTERN.finditer(str(text)):
            variable = match.group(1)
            if not variable.startswith("!") and variable not in variables:
                names.add(variable.split(".", 1)[0])
        names |= referenced_names(variables, conditions)
    elif name == "Fn::If":
        argument = value[name]
        if isinstance(argument, list) and len(argument) == 3 and argument[0] in conditions:
            chosen = argument[1] if conditions[argument[0]] else argument[2]
            names |= referenced_names(chosen, conditions)
    elif isinstance(value, dict):
        for item in value.values():
            names |= referenced_names(item, conditions)
    elif isinstance(value, list):
        for item in value:
            names |= referenced_names(item, conditions)
    return names


def depends_on(template_path: Path, logical_id: str, resource: dict[str, Any]) -> list[str]:
    """Return the resource's DependsOn entries as a list; raise TemplateError if malformed."""
    value = resource.get("DependsOn", [])
    entries = [value] if isinstance(value, str) else value
    if not isinstance(entries, list) or not all(isinstance(entry, str) for entry in entries):
        raise TemplateError(
            template_path,
            "must be a logical id or a list of logical ids",
            resource=logical_id,
            property_name="DependsOn",
        )
    return entries


def deployment_steps(
    template_path: Path,
    resources: Mapping[str, dict[str, Any]],
    active_ids: list[str],
    deferred_properties: Mapping[str, Collection[str]],
    conditions: Mapping[str, bool],
) -> tuple[list[Step], dict[str, set[str]]]:
    """Return the steps in dependency order, and each resource's direct dependencies.

    deferred_properties maps a logical id to the properties that its handler applies in a
    later step. Such a resource gets a DEFERRED step, which also takes its DependsOn.
    Raises TemplateError for DependsOn on a missing resource and for circular references.
    """
    active = set(active_ids)
    edges: dict[Step, set[Step]] = {}
    dependencies: dict[str, set[str]] = {}

    for logical_id in active_ids:
        resource = resources[logical_id]
        properties = resource.get("Properties", {}) or {}
        deferred_names = set(deferred_properties.get(logical_id, ()))
        explicit = depends_on(template_path, logical_id, resource)
        for target in explicit:
            if target not in active:
                raise TemplateError(
                    template_path,
                    f"names {target}, which is not a resource of the template "
                    "(or its Condition is false)",
                    resource=logical_id,
                    property_name="DependsOn",
                )
        main_properties = {k: v for k, v in properties.items() if k not in deferred_names}
        main_refs = (referenced_names(main_properties, conditions) & active) - {logical_id}
        main = Step(logical_id, MAIN)

        if deferred_names:
            deferred_values = {k: v for k, v in properties.items() if k in deferred_names}
            deferred_refs = referenced_names(deferred_values, conditions) & active
            edges[main] = {Step(name, MAIN) for name in main_refs}
            edges[Step(logical_id, DEFERRED)] = {main} | {
                Step(name, MAIN) for name in (deferred_refs | set(explicit)) - {logical_id}
            }
            dependencies[logical_id] = (main_refs | deferred_refs | set(explicit)) - {logical_id}
        else:
            edges[main] = {Step(name, MAIN) for name in main_refs | set(explicit)}
            dependencies[logical_id] = main_refs | set(explicit)

    return _topological_order(template_path, edges, active_ids), dependencies


def _topological_order(
    template_path: Path, edges: dict[Step, set[Step]], active_ids: list[str]
) -> list[Step]:
    position = {logical_id: index for index, logical_id in enumerate(active_ids)}

    def sort_key(step: Step) -> tuple[int, int]:
        return position[step.logical_id], 0 if step.phase == MAIN else 1

    remaining = {step: set(requirements) for step, requirements in edges.items()}
    order: list[Step] = []
    while remaining:
        ready = sorted((step for step, needs in remaining.items() if not needs), key=sort_key)
        if not ready:
            raise TemplateError(template_path, _describe_cycle(remaining))
        for step in ready:
            del remaining[step]
            order.append(step)
        done = set(ready)
        for needs in remaining.values():
            needs -= done
    return order


def _describe_cycle(remaining: dict[Step, set[Step]]) -> str:
    # Follow unmet requirements from any blocked step until a step repeats.
    step = min(remaining, key=lambda item: item.logical_id)
    path: list[Step] = []
    while step not in path:
        path.append(step)
        step = min(remaining[step], key=lambda item: item.logical_id)
    cycle = path[path.index(step) :] + [step]
    names = " -> ".join(item.logical_id for item in cycle)
    return f"circular dependency between resources: {names}"
