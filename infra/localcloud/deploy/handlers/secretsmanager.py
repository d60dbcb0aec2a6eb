"""AWS::SecretsManager::Secret, with a generated value when GenerateSecretString is given."""

from __future__ import annotations

import json
import logging
import secrets
import string
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

SECRET_NAME_MAX_LENGTH = 63
DEFAULT_PASSWORD_LENGTH = 32
PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"


class SecretHandler(ResourceHandler):
    resource_type = "AWS::SecretsManager::Secret"
    attributes = ("Id",)
    secret_properties = ("SecretString",)
    handled_properties = (
        "Name",
        "Description",
        "SecretString",
        "GenerateSecretString",
        "KmsKeyId",
        "Tags",
    )
    arn_format = "arn:aws:secretsmanager:{region}:{account}:secret:{name}"

    def exists(self, context: ResourceContext, record: dict[str, Any]) -> bool:
        try:
            context.client("secretsmanager").describe_secret(SecretId=record["PhysicalResourceId"])
        except ClientError as error:
            if error_code(error) == "ResourceNotFoundException":
                return False
            raise
        return True

    def create(self, context: ResourceContext, properties: dict[str, Any]) -> Provisioned:
        client = context.client("secretsmanager")
        name = properties.get("Name") or context.physical_name(SECRET_NAME_MAX_LENGTH)
        arguments: dict[str, Any] = {"Name": name, "SecretString": secret_value(properties)}
        for key in ("Description", "KmsKeyId"):
            if key in properties:
                arguments[key] = properties[key]
        if properties.get("Tags"):
            arguments["Tags"] = tags_as_list(properties["Tags"])
        try:
            arn = client.create_secret(**arguments)["ARN"]
        except ClientError as error:
            if error_code(error) != "ResourceExistsException":
                raise
            logger.info("secret %s already exists; its value is kept", name)
            arn = client.describe_secret(SecretId=name)["ARN"]
        return Provisioned(physical_id=arn, attributes={"Id": arn})

    def update(
        self, context: ResourceContext, properties: dict[str, Any], record: dict[str, Any]
    ) -> Provisioned:
        arn = record["PhysicalResourceId"]
        if changed(properties, record, "Name"):
            return self.create(context, properties)
        client = context.client("secretsmanager")
        arguments: dict[str, Any] = {"SecretId": arn}
        if changed(properties, record, "Description"):
            arguments["Description"] = properties.get("Description", "")
        if changed(properties, record, "KmsKeyId") and "KmsKeyId" in properties:
            arguments["KmsKeyId"] = properties["KmsKeyId"]
        # A secret's value changes only when the template's value or generator changes.
        if changed(properties, record, "SecretString", "GenerateSecretString"):
            arguments["SecretString"] = secret_value(properties)
        if len(arguments) > 1:
            client.update_secret(**arguments)
        return Provisioned(physical_id=arn, attributes={"Id": arn})

    def delete(self, context: ResourceContext, record: dict[str, Any]) -> None:
        context.client("secretsmanager").delete_secret(
            SecretId=record["PhysicalResourceId"], ForceDeleteWithoutRecovery=True
        )


def secret_value(properties: dict[str, Any]) -> str:
    """Return SecretString, or a value made as GenerateSecretString describes it."""
    if "SecretString" in properties:
        return str(properties["SecretString"])
    generate = properties.get("GenerateSecretString")
    if generate is None:
        return generate_password({})
    password = generate_password(generate)
    template = generate.get("SecretStringTemplate")
    key = generate.get("GenerateStringKey")
    if template is not None and key is not None:
        document = json.loads(template)
        document[key] = password
        return json.dumps(document)
    return password


def generate_password(options: dict[str, Any]) -> str:
    """Return a random password honouring GenerateSecretString's character options."""
    length = int(options.get("PasswordLength", DEFAULT_PASSWORD_LENGTH))
    groups = []
    if not _flag(options, "ExcludeLowercase"):
        groups.append(string.ascii_lowercase)
    if not _flag(options, "ExcludeUppercase"):
        groups.append(string.ascii_uppercase)
    if not _flag(options, "ExcludeNumbers"):
        groups.append(string.digits)
    if not _flag(options, "ExcludePunctuation"):
        groups.append(PUNCTUATION)
    excluded = set(str(options.get("ExcludeCharacters", "")))
    groups = ["".join(char for char in group if char not in excluded) for group in groups]
    groups = [group for group in groups if group]
    if _flag(options, "IncludeSpace"):
        groups.append(" ")
    alphabet = "".join(groups)
    if not alphabet:
        raise ValueError("GenerateSecretString excludes every character")
    return "".join(secrets.choice(alphabet) for _ in range(length))


def _flag(options: dict[str, Any], name: str) -> bool:
    return str(options.get(name, "false")).lower() == "true"
