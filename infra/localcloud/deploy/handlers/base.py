"""The contract every resource handler honours, and what a handler gets to do its work."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import boto3
import botocore.config
from botocore.exceptions import ClientError

from infra.localcloud.deploy.artifacts import ArtifactRegistry, BuiltZip, build_zip
from infra.localcloud.deploy.errors import TemplateError
from infra.localcloud.deploy.naming import DEFAULT_MAX_LENGTH, physical_name

# The local cloud checks no signature, so fixed credentials keep boto3 from looking for
# real ones (or the instance metadata address).
REDACTED_KEY = "Redacted"
LOCAL_ACCESS_KEY_ID = "test"
LOCAL_SECRET_ACCESS_KEY = "test"
CLIENT_CONFIG = botocore.config.Config(
    connect_timeout=5,
    read_timeout=60,
    retries={"max_attempts": 3, "mode": "standard"},
    s3={"addressing_style": "path"},
)


class AwsClients:
    """boto3 clients for one endpoint URL and region, created once per service."""

    def __init__(self, endpoint_url: str, region: str) -> None:
        self.endpoint_url = endpoint_url
        self._session = boto3.session.Session(
            aws_access_key_id=LOCAL_ACCESS_KEY_ID,
            aws_secret_access_key=LOCAL_SECRET_ACCESS_KEY,
            region_name=region,
        )
        self._clients: dict[str, Any] = {}

    def get(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._session.client(
                service, endpoint_url=self.endpoint_url, config=CLIENT_CONFIG
            )
        return self._clients[service]


class ZipCache:
    """Zips of the template's local folders, built once per deployment."""

    def __init__(self, artifacts: ArtifactRegistry) -> None:
        self.artifacts = artifacts
        self._zips: dict[str, BuiltZip] = {}

    def for_location(self, location: Any) -> BuiltZip | None:
        """Return the zip of a placeholder Code or Content location, None if it is not local."""
        artifact = self.artifacts.find(location)
        if artifact is None:
            return None
        key = f"{artifact.folder}|{artifact.zip_prefix}"
        if key not in self._zips:
            self._zips[key] = build_zip(artifact)
        return self._zips[key]


@dataclass
class Provisioned:
    """A created or updated resource: what Ref returns, and what Fn::GetAtt returns."""

    physical_id: str
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass
class ResourceContext:
    """Everything a handler needs to act on one resource of one stack."""

    stack_name: str
    logical_id: str
    resource_type: str
    region: str
    account_id: str
    template_path: Path
    clients: AwsClients
    zips: ZipCache
    deletion_policy: str = "Delete"
    state_dir: Path | None = None
    # The id of the resource that an earlier deployment recorded and the cloud no longer
    # has (after a restart of the local cloud); None for a resource never deployed.
    previous_physical_id: str | None = None

    def client(self, service: str) -> Any:
        return self.clients.get(service)

    def physical_name(self, max_length: int = DEFAULT_MAX_LENGTH) -> str:
        return physical_name(self.stack_name, self.logical_id, max_length)

    def template_error(self, property_name: str | None, reason: str) -> TemplateError:
        return TemplateError(
            self.template_path, reason, resource=self.logical_id, property_name=property_name
        )


class ResourceHandler:
    """Handler of one CloudFormation resource type: it creates, updates, checks and deletes.

    Subclasses set the class attributes and override the methods. Properties arrive with
    every intrinsic function resolved. A handler updates only what differs from the
    previous deployment, whose resolved properties are in record["Properties"]. When a
    change needs a new physical resource, update returns a new physical id, and the engine
    deletes the old resource after the deployment.
    """

    resource_type: ClassVar[str] = ""
    # Names that Fn::GetAtt accepts.
    attributes: ClassVar[tuple[str, ...]] = ()
    required_properties: ClassVar[tuple[str, ...]] = ()
    # Properties applied in a later step, once the resources they refer to exist. Their
    # references may point back at resources that depend on this one, such as a bucket's
    # notifications to a function that reads the bucket.
    deferred_properties: ClassVar[tuple[str, ...]] = ()
    # Properties whose values the stack record keeps only as a sha256.
    secret_properties: ClassVar[tuple[str, ...]] = ()
    # Properties the handler applies; any other property is logged as ignored.
    handled_properties: ClassVar[tuple[str, ...]] = ()
    # ARN of a resource from its name, for GetAtt Arn without a deployment.
    arn_format: ClassVar[str | None] = None

    def missing_properties(self, properties: dict[str, Any]) -> list[str]:
        """Return the required properties that are absent."""
        return [name for name in self.required_properties if name not in properties]

    def fingerprint(self, context: ResourceContext, properties: dict[str, Any]) -> dict[str, Any]:
        """Return the properties as compared between deployments (code as its sha256)."""
        return properties

    def exists(self, context: ResourceContext, record: dict[str, Any]) -> bool:
        """Return whether the physical resource that record describes is still in the cloud."""
        raise NotImplementedError

    def create(self, context: ResourceContext, properties: dict[str, Any]) -> Provisioned:
        """Create the resource, or bring a same-named one that already exists to properties."""
        raise NotImplementedError

    def update(
        self, context: ResourceContext, properties: dict[str, Any], record: dict[str, Any]
    ) -> Provisioned:
        """Change the resource that record describes to match properties, or replace it."""
        raise NotImplementedError

    def delete(self, context: ResourceContext, record: dict[str, Any]) -> None:
        """Delete the physical resource that record describes."""
        raise NotImplementedError

    def apply_deferred(
        self, context: ResourceContext, deferred: dict[str, Any], record: dict[str, Any]
    ) -> None:
        """Apply the deferred properties to the resource that record describes."""

    def is_same_resource(self, record: dict[str, Any], result: Provisioned) -> bool:
        """Return whether an update kept the physical resource that record describes."""
        return result.physical_id == record["PhysicalResourceId"]

    def local_attribute(self, name: str, attribute: str, region: str, account_id: str) -> str:
        """Return GetAtt's value for a resource of this name that was never deployed."""
        if attribute == "Arn" and self.arn_format is not None:
            return self.arn_format.format(region=region, account=account_id, name=name)
        return name


def error_code(error: ClientError) -> str:
    """Return the AWS error code of a botocore ClientError."""
    return str(error.response.get("Error", {}).get("Code", ""))


def tags_as_dict(tags: Any) -> dict[str, str]:
    """Turn CloudFormation's [{Key, Value}] tags (or a mapping) into a dict of strings."""
    if isinstance(tags, dict):
        return {str(key): str(value) for key, value in tags.items()}
    return {str(tag["Key"]): str(tag["Value"]) for tag in tags or []}


def tags_as_list(tags: Any) -> list[dict[str, str]]:
    """Turn tags into the [{"Key": ..., "Value": ...}] form."""
    return [{"Key": key, "Value": value} for key, value in tags_as_dict(tags).items()]


def redact(value: Any) -> dict[str, str]:
    """Return what the stack record keeps of a secret value: its sha256, never the value."""
    text = json.dumps(value, sort_keys=True, default=str)
    return {REDACTED_KEY: "sha256:" + hashlib.sha256(text.encode()).hexdigest()}


def is_redacted(value: Any) -> bool:
    return isinstance(value, dict) and list(value) == [REDACTED_KEY]


def changed(properties: dict[str, Any], record: dict[str, Any], *names: str) -> bool:
    """Return whether any of the named properties differs from the previous deployment.

    A secret property, which the record keeps only as a hash, is compared by its hash.
    """
    previous = record.get("Properties", {})
    for name in names:
        before = previous.get(name)
        now = properties.get(name)
        if is_redacted(before) and now is not None:
            now = redact(now)
        if before != now:
            return True
    return False
