"""AWS::IAM::Role, AWS::IAM::Policy and AWS::IAM::ManagedPolicy."""

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
from infra.localcloud.deploy.managed_policies import AWS_POLICY_ARN_PREFIX, managed_policy_document

logger = logging.getLogger(__name__)

# Prefix of the inline copy of an AWS managed policy that moto has not loaded.
MANAGED_COPY_PREFIX = "aws-managed-"
IAM_NAME_MAX_LENGTH = 64
POLICY_VERSION = "2012-10-17"
# Managed policy ARNs already reported as copied inline; later copies log at debug level.
_reported_copies: set[str] = set()


class RoleHandler(ResourceHandler):
    resource_type = "AWS::IAM::Role"
    attributes = ("Arn", "RoleId")
    required_properties = ("AssumeRolePolicyDocument",)
    handled_properties = (
        "RoleName",
        "AssumeRolePolicyDocument",
        "Policies",
        "ManagedPolicyArns",
        "Path",
        "Description",
        "MaxSessionDuration",
        "PermissionsBoundary",
        "Tags",
    )
    arn_format = "arn:aws:iam::{account}:role/{name}"

    def exists(self, context: ResourceContext, record: dict[str, Any]) -> bool:
        try:
            context.client("iam").get_role(RoleName=record["PhysicalResourceId"])
        except ClientError as error:
            if error_code(error) == "NoSuchEntity":
                return False
            raise
        return True

    def create(self, context: ResourceContext, properties: dict[str, Any]) -> Provisioned:
        iam = context.client("iam")
        name = properties.get("RoleName") or context.physical_name(IAM_NAME_MAX_LENGTH)
        arguments: dict[str, Any] = {
            "RoleName": name,
            "AssumeRolePolicyDocument": policy_json(properties["AssumeRolePolicyDocument"]),
            "Path": properties.get("Path", "/"),
        }
        if "Description" in properties:
            arguments["Description"] = properties["Description"]
        if "MaxSessionDuration" in properties:
            arguments["MaxSessionDuration"] = int(properties["MaxSessionDuration"])
        if "PermissionsBoundary" in properties:
            arguments["PermissionsBoundary"] = properties["PermissionsBoundary"]
        if properties.get("Tags"):
            arguments["Tags"] = tags_as_list(properties["Tags"])
        try:
            role = iam.create_role(**arguments)["Role"]
        except ClientError as error:
            if error_code(error) != "EntityAlreadyExists":
                raise
            logger.info("role %s already exists; bringing it to the template", name)
            return self._converge(context, name, properties, {})
        self._sync_policies(context, name, properties, {})
        return Provisioned(
            physical_id=name, attributes={"Arn": role["Arn"], "RoleId": role["RoleId"]}
        )

    def update(
        self, context: ResourceContext, properties: dict[str, Any], record: dict[str, Any]
    ) -> Provisioned:
        name = properties.get("RoleName") or context.physical_name(IAM_NAME_MAX_LENGTH)
        if name != record["PhysicalResourceId"] or changed(properties, record, "Path"):
            # A role's name and path are fixed at creation, so CloudFormation replaces the role.
            return self.create(context, properties)
        return self._converge(context, name, properties, record.get("Properties", {}))

    def delete(self, context: ResourceContext, record: dict[str, Any]) -> None:
        iam = context.client("iam")
        name = record["PhysicalResourceId"]
        for policy_name in iam.list_role_policies(RoleName=name)["PolicyNames"]:
            iam.delete_role_policy(RoleName=name, PolicyName=policy_name)
        attached = iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
        for policy in attached:
            iam.detach_role_policy(RoleName=name, PolicyArn=policy["PolicyArn"])
        iam.delete_role(RoleName=name)

    def _converge(
        self,
        context: ResourceContext,
        name: str,
        properties: dict[str, Any],
        previous: dict[str, Any],
    ) -> Provisioned:
        iam = context.client("iam")
        record = {"Properties": previous}
        if changed(properties, record, "AssumeRolePolicyDocument"):
            iam.update_assume_role_policy(
                RoleName=name, PolicyDocument=policy_json(properties["AssumeRolePolicyDocument"])
            )
        if changed(properties, record, "Description", "MaxSessionDuration"):
            arguments: dict[str, Any] = {"RoleName": name}
            arguments["Description"] = properties.get("Description", "")
            if "MaxSessionDuration" in properties:
                arguments["MaxSessionDuration"] = int(properties["MaxSessionDuration"])
            iam.update_role(**arguments)
        if changed(properties, record, "Tags"):
            desired = tags_as_dict(properties.get("Tags"))
            current = {
                tag["Key"]: tag["Value"] for tag in iam.list_role_tags(RoleName=name)["Tags"]
            }
            stale = [key for key in current if key not in desired]
            if stale:
                iam.untag_role(RoleName=name, TagKeys=stale)
            if desired:
                iam.tag_role(RoleName=name, Tags=tags_as_list(desired))
        self._sync_policies(context, name, properties, previous)
        role = iam.get_role(RoleName=name)["Role"]
        return Provisioned(
            physical_id=name, attributes={"Arn": role["Arn"], "RoleId": role["RoleId"]}
        )

    def _sync_policies(
        self,
        context: ResourceContext,
        name: str,
        properties: dict[str, Any],
        previous: dict[str, Any],
    ) -> None:
        """Make the role's inline policies and attached managed policies match the template.

        Only inline policies that the previous deployment of this role declared, or that
        copy a managed policy, are removed. Inline policies of AWS::IAM::Policy resources
        stay.
        """
        iam = context.client("iam")
        inline = {
            policy["PolicyName"]: policy["PolicyDocument"]
            for policy in properties.get("Policies", [])
        }
        managed = list(properties.get("ManagedPolicyArns", []))

        attached = {
            policy["PolicyArn"]
            for policy in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
        }
        for arn in managed:
            if arn in attached:
                continue
            copy = self._attach(context, name, arn)
            if copy is not None:
                inline[copy[0]] = copy[1]
        for arn in attached - set(managed):
            iam.detach_role_policy(RoleName=name, PolicyArn=arn)

        existing = set(iam.list_role_policies(RoleName=name)["PolicyNames"])
        for policy_name, document in inline.items():
            iam.put_role_policy(
                RoleName=name, PolicyName=policy_name, PolicyDocument=policy_json(document)
            )
        declared_before = {policy["PolicyName"] for policy in previous.get("Policies", [])}
        copies = {
            policy_name for policy_name in existing if policy_name.startswith(MANAGED_COPY_PREFIX)
        }
        for policy_name in ((existing & declared_before) | copies) - set(inline):
            iam.delete_role_policy(RoleName=name, PolicyName=policy_name)

    def _attach(
        self, context: ResourceContext, role_name: str, arn: str
    ) -> tuple[str, dict[str, Any]] | None:
        """Attach a managed policy, or return an inline copy when moto lacks an AWS one."""
        if not arn.startswith("arn:"):
            raise context.template_error(
                "ManagedPolicyArns", f"{arn!r} is neither an ARN nor a known managed policy name"
            )
        try:
            context.client("iam").attach_role_policy(RoleName=role_name, PolicyArn=arn)
            return None
        except ClientError as error:
            if error_code(error) != "NoSuchEntity" or not arn.startswith(AWS_POLICY_ARN_PREFIX):
                raise

        document = managed_policy_document(arn)
        if document is None:
            raise context.template_error(
                "ManagedPolicyArns",
                f"{arn} is not in moto's copy of the AWS managed policies",
            )

        # NOTE: moto loads AWS managed policies only when MOTO_IAM_LOAD_MANAGED_POLICIES=true
        # is set before it starts. Without them, the role gets the same document inline,
        # which grants the same permissions but lists no attached policy.
        policy_name = MANAGED_COPY_PREFIX + arn.rsplit("/", 1)[-1]
        log = logger.debug if arn in _reported_copies else logger.warning
        _reported_copies.add(arn)
        log(
            "role %s: AWS managed policy %s is not loaded in moto (start moto with "
            "MOTO_IAM_LOAD_MANAGED_POLICIES=true), so its document is put inline as %s",
            role_name,
            arn,
            policy_name,
        )
        return policy_name, document


class IamPolicyHandler(ResourceHandler):
    """AWS::IAM::Policy: one inline policy put on each listed role, user and group."""

    resource_type = "AWS::IAM::Policy"
    required_properties = ("PolicyName", "PolicyDocument")
    handled_properties = ("PolicyName", "PolicyDocument", "Roles", "Users", "Groups")

    def exists(self, context: ResourceContext, record: dict[str, Any]) -> bool:
        properties = record.get("Properties", {})
        iam = context.client("iam")
        for role in properties.get("Roles", []):
            try:
                iam.get_role_policy(RoleName=role, PolicyName=properties["PolicyName"])
            except ClientError as error:
                if error_code(error) == "NoSuchEntity":
                    return False
                raise
        return True

    def create(self, context: ResourceContext, properties: dict[str, Any]) -> Provisioned:
        iam = context.client("iam")
        name = properties["PolicyName"]
        document = policy_json(properties["PolicyDocument"])
        for role in properties.get("Roles", []):
            iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=document)
        for user in properties.get("Users", []):
            iam.put_user_policy(UserName=user, PolicyName=name, PolicyDocument=document)
        for group in properties.get("Groups", []):
            iam.put_group_policy(GroupName=group, PolicyName=name, PolicyDocument=document)
        return Provisioned(physical_id=context.physical_name(IAM_NAME_MAX_LENGTH))

    def update(
        self, context: ResourceContext, properties: dict[str, Any], record: dict[str, Any]
    ) -> Provisioned:
        previous = record.get("Properties", {})
        self._remove(context, previous, keep=properties)
        return self.create(context, properties)

    def delete(self, context: ResourceContext, record: dict[str, Any]) -> None:
        self._remove(context, record.get("Properties", {}), keep={})

    def _remove(
        self, context: ResourceContext, previous: dict[str, Any], keep: dict[str, Any]
    ) -> None:
        iam = context.client("iam")
        name = previous.get("PolicyName")
        if not name:
            return
        same_name = keep.get("PolicyName") == name
        for role in previous.get("Roles", []):
            if not (same_name and role in keep.get("Roles", [])):
                _ignore_missing(iam.delete_role_policy, RoleName=role, PolicyName=name)
        for user in previous.get("Users", []):
            if not (same_name and user in keep.get("Users", [])):
                _ignore_missing(iam.delete_user_policy, UserName=user, PolicyName=name)
        for group in previous.get("Groups", []):
            if not (same_name and group in keep.get("Groups", [])):
                _ignore_missing(iam.delete_group_policy, GroupName=group, PolicyName=name)


class ManagedPolicyHandler(ResourceHandler):
    resource_type = "AWS::IAM::ManagedPolicy"
    attributes = ("PolicyArn", "PolicyId", "DefaultVersionId", "AttachmentCount")
    required_properties = ("PolicyDocument",)
    handled_properties = (
        "ManagedPolicyName",
        "PolicyDocument",
        "Path",
        "Description",
        "Roles",
        "Users",
        "Groups",
    )
    arn_format = "arn:aws:iam::{account}:policy/{name}"

    def exists(self, context: ResourceContext, record: dict[str, Any]) -> bool:
        try:
            context.client("iam").get_policy(PolicyArn=record["PhysicalResourceId"])
        except ClientError as error:
            if error_code(error) == "NoSuchEntity":
                return False
            raise
        return True

    def create(self, context: ResourceContext, properties: dict[str, Any]) -> Provisioned:
        iam = context.client("iam")
        name = properties.get("ManagedPolicyName") or context.physical_name(IAM_NAME_MAX_LENGTH)
        arguments: dict[str, Any] = {
            "PolicyName": name,
            "PolicyDocument": policy_json(properties["PolicyDocument"]),
            "Path": properties.get("Path", "/"),
        }
        if "Description" in properties:
            arguments["Description"] = properties["Description"]
        policy = iam.create_policy(**arguments)["Policy"]
        self._attach(context, policy["Arn"], properties, {})
        return self._provisioned(policy)

    def update(
        self, context: ResourceContext, properties: dict[str, Any], record: dict[str, Any]
    ) -> Provisioned:
        if changed(properties, record, "ManagedPolicyName", "Path", "Description"):
            return self.create(context, properties)
        iam = context.client("iam")
        arn = record["PhysicalResourceId"]
        if changed(properties, record, "PolicyDocument"):
            # IAM keeps at most five versions; drop the oldest non-default ones first.
            versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
            for version in sorted(versions, key=lambda item: item["CreateDate"])[:-4]:
                if not version["IsDefaultVersion"]:
                    iam.delete_policy_version(PolicyArn=arn, VersionId=version["VersionId"])
            iam.create_policy_version(
                PolicyArn=arn,
                PolicyDocument=policy_json(properties["PolicyDocument"]),
                SetAsDefault=True,
            )
        self._attach(context, arn, properties, record.get("Properties", {}))
        return self._provisioned(iam.get_policy(PolicyArn=arn)["Policy"])

    def delete(self, context: ResourceContext, record: dict[str, Any]) -> None:
        iam = context.client("iam")
        arn = record["PhysicalResourceId"]
        self._attach(context, arn, {}, record.get("Properties", {}))
        for version in iam.list_policy_versions(PolicyArn=arn)["Versions"]:
            if not version["IsDefaultVersion"]:
                iam.delete_policy_version(PolicyArn=arn, VersionId=version["VersionId"])
        iam.delete_policy(PolicyArn=arn)

    def _attach(
        self,
        context: ResourceContext,
        arn: str,
        properties: dict[str, Any],
        previous: dict[str, Any],
    ) -> None:
        iam = context.client("iam")
        operations = (
            ("Roles", "RoleName", iam.attach_role_policy, iam.detach_role_policy),
            ("Users", "UserName", iam.attach_user_policy, iam.detach_user_policy),
            ("Groups", "GroupName", iam.attach_group_policy, iam.detach_group_policy),
        )
        for key, argument, attach, detach in operations:
            desired = set(properties.get(key, []))
            before = set(previous.get(key, []))
            for name in sorted(desired - before):
                attach(**{argument: name, "PolicyArn": arn})
            for name in sorted(before - desired):
                _ignore_missing(detach, **{argument: name, "PolicyArn": arn})

    @staticmethod
    def _provisioned(policy: dict[str, Any]) -> Provisioned:
        return Provisioned(
            physical_id=policy["Arn"],
            attributes={
                "PolicyArn": policy["Arn"],
                "PolicyId": policy["PolicyId"],
                "DefaultVersionId": policy.get("DefaultVersionId", "v1"),
                "AttachmentCount": str(policy.get("AttachmentCount", 0)),
            },
        )


def policy_json(document: Any) -> str:
    """Return a policy document as JSON, with the current policy language version if absent.

    SAM writes inline policies without a Version. IAM reads those as version 2008-10-17,
    which lacks policy variables, and moto 5.2.5 rejects them outright.
    """
    if isinstance(document, str):
        document = json.loads(document)
    if isinstance(document, dict) and "Version" not in document:
        document = {"Version": POLICY_VERSION, **document}
    return json.dumps(document)


def _ignore_missing(call: Any, **arguments: Any) -> None:
    try:
        call(**arguments)
    except ClientError as error:
        if error_code(error) != "NoSuchEntity":
            raise
