"""`deploy`: create or update every resource of a template in the local cloud, in order."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from infra.localcloud.deploy.errors import DeployError
from infra.localcloud.deploy.graph import MAIN, Step, deployment_steps
from infra.localcloud.deploy.handlers import HANDLERS
from infra.localcloud.deploy.handlers.base import (
    AwsClients,
    Provisioned,
    ResourceContext,
    ZipCache,
    redact,
)
from infra.localcloud.deploy.images import save_image_sources
from infra.localcloud.deploy.lookups import ProvisionedLookup
from infra.localcloud.deploy.naming import check_stack_name
from infra.localcloud.deploy.outputs import resolve_outputs
from infra.localcloud.deploy.parameters import is_no_echo, parameter_text
from infra.localcloud.deploy.prepare import PreparedTemplate, prepare_template, resolve_properties
from infra.localcloud.deploy.state import (
    STATUS_COMPLETE,
    STATUS_FAILED,
    StackRecord,
    load_stack,
    save_stack,
    stack_lock,
)

logger = logging.getLogger(__name__)

CREATED = "created"
UPDATED = "updated"
UNCHANGED = "unchanged"
DELETED = "deleted"
NO_ECHO_MASK = "****"
DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT_ID = "123456789012"


@dataclass
class ResourceChange:
    """The action a deployment took on one resource: created, updated, unchanged or deleted."""

    logical_id: str
    resource_type: str
    physical_id: str
    action: str


@dataclass
class DeployResult:
    """A finished deployment: its outputs and a change for every resource, in order."""

    stack_name: str
    outputs: dict[str, str] = field(default_factory=dict)
    changes: list[ResourceChange] = field(default_factory=list)


def deploy(
    template_path: Path,
    *,
    stack_name: str,
    endpoint_url: str,
    state_dir: Path,
    parameter_overrides: Mapping[str, str] = {},
    region: str = DEFAULT_REGION,
    account_id: str = DEFAULT_ACCOUNT_ID,
) -> DeployResult:
    """Create or update every resource of a SAM or CloudFormation template, idempotently.

    Resources are created through boto3 at endpoint_url in dependency order, with names
    derived from the stack and logical id unless the template names them. A resource whose
    resolved properties (and code) match the last deployment is left "unchanged". The
    record of the deployment goes to state_dir/stacks/STACK.json, also when it fails.
    Resources that the template no longer declares are deleted. The source folders of image
    functions are recorded under state_dir/images, where the local cloud's runtime reads
    them.

    Raises TemplateError before anything is created when the template is invalid or uses
    an unsupported type, DeployError when an AWS call fails, ValueError for an invalid
    stack name, and TimeoutError when another deployment of the stack holds its lock.
    """
    check_stack_name(stack_name)
    prepared = prepare_template(
        template_path,
        stack_name=stack_name,
        parameter_overrides=parameter_overrides,
        region=region,
        account_id=account_id,
        require_handlers=True,
    )
    deferred = {
        logical_id: HANDLERS[prepared.resources[logical_id]["Type"]].deferred_properties
        for logical_id in prepared.active_ids
    }
    steps, dependencies = deployment_steps(
        template_path, prepared.resources, prepared.active_ids, deferred, prepared.conditions
    )
    with stack_lock(state_dir, stack_name):
        save_image_sources(state_dir, prepared.artifacts.images)
        run = _DeploymentRun(
            prepared,
            stack_name=stack_name,
            endpoint_url=endpoint_url,
            state_dir=state_dir,
            parameter_overrides=parameter_overrides,
            previous=load_stack(state_dir, stack_name),
            dependencies=dependencies,
        )
        return run.execute(steps)


def properties_hash(value: Any) -> str:
    """Return the sha256 of a value's canonical JSON."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class _DeploymentRun:
    """The state of one deployment: what was provisioned so far and what to clean up."""

    def __init__(
        self,
        prepared: PreparedTemplate,
        *,
        stack_name: str,
        endpoint_url: str,
        state_dir: Path,
        parameter_overrides: Mapping[str, str],
        previous: StackRecord | None,
        dependencies: dict[str, set[str]],
    ) -> None:
        self.prepared = prepared
        self.stack_name = stack_name
        self.endpoint_url = endpoint_url
        self.state_dir = state_dir
        self.parameter_overrides = dict(parameter_overrides)
        self.previous_resources = dict(previous.resources) if previous else {}
        self.previous_outputs = dict(previous.outputs) if previous else {}
        self.dependencies = dependencies
        self.clients = AwsClients(endpoint_url, prepared.region)
        self.zips = ZipCache(prepared.artifacts)
        self.provisioned: dict[str, Provisioned] = {}
        self.records: dict[str, dict[str, Any]] = {}
        self.changes: dict[str, ResourceChange] = {}
        self.replaced: list[tuple[str, dict[str, Any]]] = []
        self.resolver = prepared.resolver(ProvisionedLookup(prepared.resources, self.provisioned))

    def execute(self, steps: list[Step]) -> DeployResult:
        try:
            for step in steps:
                if step.phase == MAIN:
                    self._deploy_resource(step.logical_id)
                else:
                    self._apply_deferred(step.logical_id)
            outputs = resolve_outputs(
                self.prepared.template.get("Outputs", {}) or {},
                self.prepared.conditions,
                self.resolver,
                self.endpoint_url,
            )
        except Exception as error:
            # The record keeps what exists now, so that the next deployment finds it.
            self._save(STATUS_FAILED, str(error), self.previous_outputs, keep_previous=True)
            raise

        deleted = self._delete_removed()
        self._delete_replaced()
        self._save(STATUS_COMPLETE, "", outputs, keep_previous=False)
        return DeployResult(
            stack_name=self.stack_name,
            outputs=outputs,
            changes=[*self.changes.values(), *deleted],
        )

    def _context(self, logical_id: str, resource_type: str) -> ResourceContext:
        resource = self.prepared.resources.get(logical_id, {})
        return ResourceContext(
            stack_name=self.stack_name,
            logical_id=logical_id,
            resource_type=resource_type,
            region=self.prepared.region,
            account_id=self.prepared.account_id,
            template_path=self.prepared.path,
            clients=self.clients,
            zips=self.zips,
            deletion_policy=str(resource.get("DeletionPolicy", "Delete")),
            state_dir=self.state_dir,
        )

    def _deploy_resource(self, logical_id: str) -> None:
        resource = self.prepared.resources[logical_id]
        resource_type = resource["Type"]
        handler = HANDLERS[resource_type]
        context = self._context(logical_id, resource_type)

        raw = {
            name: value
            for name, value in (resource.get("Properties", {}) or {}).items()
            if name not in handler.deferred_properties
        }
        properties = resolve_properties(self.resolver, logical_id, raw)
        ignored = sorted(set(properties) - set(handler.handled_properties))
        if ignored:
            logger.warning(
                "%s %s: properties not applied by the local deployer: %s",
                resource_type,
                logical_id,
                ", ".join(ignored),
            )
        try:
            fingerprint = handler.fingerprint(context, properties)
        except ValueError as error:
            raise context.template_error(None, str(error)) from None
        digest = properties_hash(fingerprint)

        previous = self.previous_resources.get(logical_id)
        if previous is not None and previous.get("Type") != resource_type:
            self.replaced.append((logical_id, previous))
            previous = None
        try:
            result, action = self._apply(handler, context, properties, digest, previous)
        except (ClientError, BotoCoreError) as error:
            raise DeployError(self.stack_name, logical_id, resource_type, str(error)) from error
        except (ValueError, TypeError) as error:
            # A handler converts values (e.g. int(MemorySize)) and fails on the wrong type.
            raise context.template_error(None, f"invalid property value: {error}") from error

        self.provisioned[logical_id] = result
        self.records[logical_id] = {
            "Type": resource_type,
            "PhysicalResourceId": result.physical_id,
            "Attributes": result.attributes,
            "Properties": _stored_properties(fingerprint, handler.secret_properties),
            "PropertiesHash": digest,
            "DependsOn": sorted(self.dependencies.get(logical_id, ())),
            "DeletionPolicy": context.deletion_policy,
            "UpdateReplacePolicy": str(resource.get("UpdateReplacePolicy", "Delete")),
        }
        self.changes[logical_id] = ResourceChange(
            logical_id, resource_type, result.physical_id, action
        )
        if action != UNCHANGED:
            logger.info("%s %s %s (%s)", action, resource_type, logical_id, result.physical_id)

    def _apply(
        self,
        handler: Any,
        context: ResourceContext,
        properties: dict[str, Any],
        digest: str,
        previous: dict[str, Any] | None,
    ) -> tuple[Provisioned, str]:
        if previous is None:
            return handler.create(context, properties), CREATED
        if not handler.exists(context, previous):
            context.previous_physical_id = previous["PhysicalResourceId"]
            return handler.create(context, properties), CREATED
        if previous.get("PropertiesHash") == digest:
            unchanged = Provisioned(previous["PhysicalResourceId"], previous.get("Attributes", {}))
            return unchanged, UNCHANGED
        result = handler.update(context, properties, previous)
        if not handler.is_same_resource(previous, result):
            self.replaced.append((context.logical_id, previous))
        return result, UPDATED

    def _apply_deferred(self, logical_id: str) -> None:
        resource = self.prepared.resources[logical_id]
        resource_type = resource["Type"]
        handler = HANDLERS[resource_type]
        context = self._context(logical_id, resource_type)
        raw = {
            name: value
            for name, value in (resource.get("Properties", {}) or {}).items()
            if name in handler.deferred_properties
        }
        deferred = resolve_properties(self.resolver, logical_id, raw)
        digest = properties_hash(deferred) if deferred else None

        record = self.records[logical_id]
        previous = self.previous_resources.get(logical_id) or {}
        change = self.changes[logical_id]
        is_new = change.action != UNCHANGED
        if digest != previous.get("DeferredHash") or (is_new and deferred):
            try:
                handler.apply_deferred(context, deferred, record)
            except (ClientError, BotoCoreError) as error:
                raise DeployError(self.stack_name, logical_id, resource_type, str(error)) from error
            if change.action == UNCHANGED:
                change.action = UPDATED
                logger.info(
                    "%s %s %s (%s): %s",
                    UPDATED,
                    resource_type,
                    logical_id,
                    record["PhysicalResourceId"],
                    ", ".join(sorted(deferred)) or "deferred properties removed",
                )
        record["DeferredHash"] = digest
        record["Properties"].update(_stored_properties(deferred, handler.secret_properties))

    def _delete_removed(self) -> list[ResourceChange]:
        """Delete what the previous deployment created and the template no longer declares."""
        removed = {
            logical_id: record
            for logical_id, record in self.previous_resources.items()
            if logical_id not in self.records
        }
        changes = []
        # A resource goes before the resources it depends on.
        remaining = dict(removed)
        for _ in range(len(removed) + 1):
            if not remaining:
                break
            needed = {
                dependency
                for record in remaining.values()
                for dependency in record.get("DependsOn", [])
            }
            batch = [logical_id for logical_id in remaining if logical_id not in needed]
            batch = batch or list(remaining)
            for logical_id in batch:
                record = remaining.pop(logical_id)
                if self._delete(logical_id, record, record.get("DeletionPolicy", "Delete")):
                    changes.append(
                        ResourceChange(
                            logical_id, record["Type"], record["PhysicalResourceId"], DELETED
                        )
                    )
        return changes

    def _delete_replaced(self) -> None:
        for logical_id, record in self.replaced:
            self._delete(logical_id, record, record.get("UpdateReplacePolicy", "Delete"))

    def _delete(self, logical_id: str, record: dict[str, Any], policy: str) -> bool:
        """Delete one old physical resource; log and carry on when that fails."""
        resource_type = record.get("Type", "")
        physical_id = record.get("PhysicalResourceId", "")
        if policy == "Retain":
            logger.info("kept %s %s (%s): policy Retain", resource_type, logical_id, physical_id)
            return False
        handler = HANDLERS.get(resource_type)
        if handler is None:
            logger.warning("cannot delete %s %s: type not supported", resource_type, logical_id)
            return False
        try:
            handler.delete(self._context(logical_id, resource_type), record)
        except (ClientError, BotoCoreError) as error:
            logger.warning(
                "could not delete old %s %s (%s): %s", resource_type, logical_id, physical_id, error
            )
            return False
        logger.info("%s %s %s (%s)", DELETED, resource_type, logical_id, physical_id)
        return True

    def _save(
        self, status: str, reason: str, outputs: dict[str, str], *, keep_previous: bool
    ) -> None:
        resources = dict(self.previous_resources) if keep_previous else {}
        resources.update(self.records)
        template = self.prepared.template
        parameter_values = {
            name: NO_ECHO_MASK if is_no_echo(template, name) else parameter_text(value)
            for name, value in self.prepared.parameters.items()
            if name in (template.get("Parameters", {}) or {})
        }
        record = StackRecord(
            stack_name=self.stack_name,
            template_path=str(self.prepared.path.resolve()),
            endpoint_url=self.endpoint_url,
            region=self.prepared.region,
            account_id=self.prepared.account_id,
            parameters=self.parameter_overrides,
            parameter_values=parameter_values,
            resources=resources,
            outputs=outputs,
            status=status,
            status_reason=reason,
            deployed_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        save_stack(self.state_dir, record)


def _stored_properties(properties: dict[str, Any], secret_names: tuple[str, ...]) -> dict[str, Any]:
    return {
        name: redact(value) if name in secret_names else value for name, value in properties.items()
    }
