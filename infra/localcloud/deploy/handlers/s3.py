"""AWS::S3::Bucket and AWS::S3::BucketPolicy."""

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
    tags_as_list,
)

logger = logging.getLogger(__name__)

MISSING_BUCKET_CODES = ("NoSuchBucket", "404", "NotFound")


class BucketHandler(ResourceHandler):
    resource_type = "AWS::S3::Bucket"
    attributes = ("Arn", "DomainName", "RegionalDomainName", "DualStackDomainName", "WebsiteURL")
    deferred_properties = ("NotificationConfiguration",)
    handled_properties = (
        "BucketName",
        "VersioningConfiguration",
        "PublicAccessBlockConfiguration",
        "BucketEncryption",
        "Tags",
        "NotificationConfiguration",
    )
    arn_format = "arn:aws:s3:::{name}"

    def exists(self, context: ResourceContext, record: dict[str, Any]) -> bool:
        try:
            context.client("s3").head_bucket(Bucket=record["PhysicalResourceId"])
        except ClientError as error:
            if error_code(error) in MISSING_BUCKET_CODES:
                return False
            raise
        return True

    def create(self, context: ResourceContext, properties: dict[str, Any]) -> Provisioned:
        name = properties.get("BucketName") or context.physical_name()
        s3 = context.client("s3")
        arguments: dict[str, Any] = {"Bucket": name}
        if context.region != "us-east-1":
            arguments["CreateBucketConfiguration"] = {"LocationConstraint": context.region}
        try:
            s3.create_bucket(**arguments)
        except ClientError as error:
            if error_code(error) != "BucketAlreadyOwnedByYou":
                raise
            logger.info("bucket %s already exists; bringing it to the template", name)
        self._configure(context, name, properties, {})
        return self._provisioned(context, name)

    def update(
        self, context: ResourceContext, properties: dict[str, Any], record: dict[str, Any]
    ) -> Provisioned:
        name = properties.get("BucketName") or context.physical_name()
        if name != record["PhysicalResourceId"]:
            return self.create(context, properties)
        self._configure(context, name, properties, record.get("Properties", {}))
        return self._provisioned(context, name)

    def delete(self, context: ResourceContext, record: dict[str, Any]) -> None:
        context.client("s3").delete_bucket(Bucket=record["PhysicalResourceId"])

    def apply_deferred(
        self, context: ResourceContext, deferred: dict[str, Any], record: dict[str, Any]
    ) -> None:
        configuration = notification_configuration(deferred.get("NotificationConfiguration", {}))
        context.client("s3").put_bucket_notification_configuration(
            Bucket=record["PhysicalResourceId"], NotificationConfiguration=configuration
        )

    def _configure(
        self,
        context: ResourceContext,
        name: str,
        properties: dict[str, Any],
        previous: dict[str, Any],
    ) -> None:
        s3 = context.client("s3")
        record = {"Properties": previous}

        if changed(properties, record, "VersioningConfiguration"):
            versioning = properties.get("VersioningConfiguration")
            # A bucket that was versioned can only be suspended, never unversioned again.
            status = versioning["Status"] if versioning else "Suspended"
            if versioning or previous.get("VersioningConfiguration"):
                s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": status})

        if changed(properties, record, "PublicAccessBlockConfiguration"):
            block = properties.get("PublicAccessBlockConfiguration")
            if block:
                s3.put_public_access_block(
                    Bucket=name,
                    PublicAccessBlockConfiguration={
                        key: _boolean(value) for key, value in block.items()
                    },
                )
            else:
                s3.delete_public_access_block(Bucket=name)

        if changed(properties, record, "BucketEncryption"):
            encryption = properties.get("BucketEncryption")
            if encryption:
                rules = encryption.get("ServerSideEncryptionConfiguration", [])
                s3.put_bucket_encryption(
                    Bucket=name,
                    ServerSideEncryptionConfiguration={
                        "Rules": [_encryption_rule(r) for r in rules]
                    },
                )
            else:
                s3.delete_bucket_encryption(Bucket=name)

        if changed(properties, record, "Tags"):
            tags = tags_as_list(properties.get("Tags"))
            if tags:
                s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": tags})
            else:
                s3.delete_bucket_tagging(Bucket=name)

    def _provisioned(self, context: ResourceContext, name: str) -> Provisioned:
        region = context.region
        return Provisioned(
            physical_id=name,
            attributes={
                "Arn": f"arn:aws:s3:::{name}",
                "DomainName": f"{name}.s3.amazonaws.com",
                "RegionalDomainName": f"{name}.s3.{region}.amazonaws.com",
                "DualStackDomainName": f"{name}.s3.dualstack.{region}.amazonaws.com",
                "WebsiteURL": f"http://{name}.s3-website-{region}.amazonaws.com",
            },
        )


def notification_configuration(template_value: dict[str, Any]) -> dict[str, Any]:
    """Turn CloudFormation's NotificationConfiguration into the PutBucketNotification form.

    CloudFormation names one Event and the target per entry (Function, Queue, Topic) and
    key filters as Filter.S3Key.Rules; the API takes Events lists and Filter.Key.FilterRules.
    """
    sections = (
        ("LambdaConfigurations", "LambdaFunctionConfigurations", "Function", "LambdaFunctionArn"),
        ("QueueConfigurations", "QueueConfigurations", "Queue", "QueueArn"),
        ("TopicConfigurations", "TopicConfigurations", "Topic", "TopicArn"),
    )
    configuration: dict[str, Any] = {}
    for template_key, api_key, target_key, arn_key in sections:
        entries = []
        for index, entry in enumerate(template_value.get(template_key, [])):
            api_entry: dict[str, Any] = {
                "Id": f"{template_key}-{index}",
                arn_key: entry[target_key],
                "Events": [entry["Event"]],
            }
            rules = entry.get("Filter", {}).get("S3Key", {}).get("Rules", [])
            if rules:
                api_entry["Filter"] = {
                    "Key": {
                        "FilterRules": [
                            {"Name": rule["Name"], "Value": rule["Value"]} for rule in rules
                        ]
                    }
                }
            entries.append(api_entry)
        if entries:
            configuration[api_key] = entries
    if _boolean(template_value.get("EventBridgeConfiguration", {}).get("EventBridgeEnabled")):
        configuration["EventBridgeConfiguration"] = {}
    return configuration


def _encryption_rule(rule: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    default = rule.get("ServerSideEncryptionByDefault")
    if default:
        result["ApplyServerSideEncryptionByDefault"] = default
    if "BucketKeyEnabled" in rule:
        result["BucketKeyEnabled"] = _boolean(rule["BucketKeyEnabled"])
    return result


def _boolean(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() == "true"
    return bool(value)


class BucketPolicyHandler(ResourceHandler):
    resource_type = "AWS::S3::BucketPolicy"
    required_properties = ("Bucket", "PolicyDocument")
    handled_properties = required_properties

    def exists(self, context: ResourceContext, record: dict[str, Any]) -> bool:
        try:
            context.client("s3").get_bucket_policy(Bucket=record["PhysicalResourceId"])
        except ClientError as error:
            if error_code(error) in (*MISSING_BUCKET_CODES, "NoSuchBucketPolicy"):
                return False
            raise
        return True

    def create(self, context: ResourceContext, properties: dict[str, Any]) -> Provisioned:
        bucket = properties["Bucket"]
        context.client("s3").put_bucket_policy(
            Bucket=bucket, Policy=json.dumps(properties["PolicyDocument"])
        )
        return Provisioned(physical_id=bucket)

    def update(
        self, context: ResourceContext, properties: dict[str, Any], record: dict[str, Any]
    ) -> Provisioned:
        return self.create(context, properties)

    def delete(self, context: ResourceContext, record: dict[str, Any]) -> None:
        context.client("s3").delete_bucket_policy(Bucket=record["PhysicalResourceId"])
