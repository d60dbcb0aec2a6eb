"""AWS::Lambda::Function and AWS::Lambda::LayerVersion."""

from __future__ import annotations

import logging
from typing import Any

from botocore.exceptions import ClientError

from infra.localcloud.deploy.artifacts import BuiltZip
from infra.localcloud.deploy.handlers.base import (
    Provisioned,
    ResourceContext,
    ResourceHandler,
    changed,
    error_code,
    tags_as_dict,
)
from infra.localcloud.deploy.images import ImageSource

logger = logging.getLogger(__name__)

FUNCTION_NAME_MAX_LENGTH = 64
LAYER_NAME_MAX_LENGTH = 64
# Configuration properties that UpdateFunctionConfiguration changes, by template name.
CONFIGURATION_PROPERTIES = (
    "Handler",
    "Runtime",
    "Role",
    "Description",
    "Timeout",
    "MemorySize",
    "Environment",
    "Layers",
    "TracingConfig",
    "DeadLetterConfig",
    "EphemeralStorage",
    "KmsKeyArn",
    "VpcConfig",
    "LoggingConfig",
    "ImageConfig",
)
INTEGER_PROPERTIES = ("Timeout", "MemorySize")


class FunctionHandler(ResourceHandler):
    resource_type = "AWS::Lambda::Function"
    attributes = ("Arn",)
    required_properties = ("Code", "Role")
    handled_properties = (
        *CONFIGURATION_PROPERTIES,
        "FunctionName",
        "Code",
        "PackageType",
        "Architectures",
        "ReservedConcurrentExecutions",
        "Tags",
    )
    arn_format = "arn:aws:lambda:{region}:{account}:function:{name}"

    def missing_properties(self, properties: dict[str, Any]) -> list[str]:
        missing = super().missing_properties(properties)
        if properties.get("PackageType", "Zip") == "Zip":
            missing += [name for name in ("Handler", "Runtime") if name not in properties]
        return missing

    def fingerprint(self, context: ResourceContext, properties: dict[str, Any]) -> dict[str, Any]:
        if _is_image(properties):
            # The placeholder image URI carries a digest of the source files.
            self._image(context, properties)
            return properties
        built = self._zip(context, properties)
        return {**properties, "Code": {"CodeSha256": built.sha256}}

    def exists(self, context: ResourceContext, record: dict[str, Any]) -> bool:
        try:
            context.client("lambda").get_function_configuration(
                FunctionName=record["PhysicalResourceId"]
            )
        except ClientError as error:
            if error_code(error) == "ResourceNotFoundException":
                return False
            raise
        return True

    def create(self, context: ResourceContext, properties: dict[str, Any]) -> Provisioned:
        client = context.client("lambda")
        name = properties.get("FunctionName") or context.physical_name(FUNCTION_NAME_MAX_LENGTH)
        if _is_image(properties):
            image = self._image(context, properties)
            code: dict[str, Any] = {"Code": {"ImageUri": image.image_uri}, "PackageType": "Image"}
        else:
            built = self._zip(context, properties)
            code = {"Code": {"ZipFile": built.content}, "PackageType": "Zip"}
        arguments: dict[str, Any] = {"FunctionName": name, **code, **_configuration(properties)}
        if "Architectures" in properties:
            arguments["Architectures"] = properties["Architectures"]
        if properties.get("Tags"):
            arguments["Tags"] = tags_as_dict(properties["Tags"])
        try:
            function = client.create_function(**arguments)
        except ClientError as error:
            if error_code(error) != "ResourceConflictException":
                raise
            logger.info("function %s already exists; bringing it to the template", name)
            return self._converge(context, name, properties, {})
        self._set_concurrency(context, name, properties, {})
        return Provisioned(physical_id=name, attributes={"Arn": function["FunctionArn"]})

    def update(
        self, context: ResourceContext, properties: dict[str, Any], record: dict[str, Any]
    ) -> Provisioned:
        name = properties.get("FunctionName") or context.physical_name(FUNCTION_NAME_MAX_LENGTH)
        if name != record["PhysicalResourceId"]:
            return self.create(context, properties)
        return self._converge(context, name, properties, record.get("Properties", {}))

    def delete(self, context: ResourceContext, record: dict[str, Any]) -> None:
        context.client("lambda").delete_function(FunctionName=record["PhysicalResourceId"])

    def _converge(
        self,
        context: ResourceContext,
        name: str,
        properties: dict[str, Any],
        previous: dict[str, Any],
    ) -> Provisioned:
        client = context.client("lambda")
        record = {"Properties": previous}
        current = client.get_function_configuration(FunctionName=name)
        package_type = "Image" if _is_image(properties) else "Zip"
        if current.get("PackageType", "Zip") != package_type:
            # Lambda cannot change a function's package type, so CloudFormation replaces the
            # function. The name stays, so the old function goes first.
            logger.info(
                "function %s: package type %s changed to %s; recreating it",
                name,
                current.get("PackageType", "Zip"),
                package_type,
            )
            client.delete_function(FunctionName=name)
            return self.create(context, properties)

        if package_type == "Image":
            self._update_image(context, name, properties)
        else:
            self._update_zip(context, name, properties, current)

        configuration = _configuration(properties)
        if not previous or changed(properties, record, *CONFIGURATION_PROPERTIES):
            if not properties.get("Environment"):
                configuration["Environment"] = {"Variables": {}}
            if package_type == "Zip" and "Layers" not in properties:
                configuration["Layers"] = []
            client.update_function_configuration(FunctionName=name, **configuration)

        self._set_concurrency(context, name, properties, previous)

        if not previous or changed(properties, record, "Tags"):
            arn = current["FunctionArn"]
            desired = tags_as_dict(properties.get("Tags"))
            existing = client.list_tags(Resource=arn).get("Tags", {})
            stale = [key for key in existing if key not in desired]
            if stale:
                client.untag_resource(Resource=arn, TagKeys=stale)
            if desired:
                client.tag_resource(Resource=arn, Tags=desired)
        return Provisioned(physical_id=name, attributes={"Arn": current["FunctionArn"]})

    def _update_zip(
        self,
        context: ResourceContext,
        name: str,
        properties: dict[str, Any],
        current: dict[str, Any],
    ) -> None:
        built = self._zip(context, properties)
        if built.sha256 == current.get("CodeSha256"):
            return
        arguments: dict[str, Any] = {"FunctionName": name, "ZipFile": built.content}
        if "Architectures" in properties:
            arguments["Architectures"] = properties["Architectures"]
        context.client("lambda").update_function_code(**arguments)
        logger.info("function %s: new code, sha256 %s", name, built.sha256)

    def _update_image(
        self, context: ResourceContext, name: str, properties: dict[str, Any]
    ) -> None:
        image = self._image(context, properties)
        client = context.client("lambda")
        deployed = client.get_function(FunctionName=name).get("Code", {}).get("ImageUri")
        if deployed == image.image_uri:
            return
        client.update_function_code(FunctionName=name, ImageUri=image.image_uri)
        logger.info("function %s: new image %s", name, image.image_uri)

    @staticmethod
    def _set_concurrency(
        context: ResourceContext, name: str, properties: dict[str, Any], previous: dict[str, Any]
    ) -> None:
        desired = properties.get("ReservedConcurrentExecutions")
        if previous and desired == previous.get("ReservedConcurrentExecutions"):
            return
        client = context.client("lambda")
        if desired is None:
            if previous.get("ReservedConcurrentExecutions") is not None:
                client.delete_function_concurrency(FunctionName=name)
            return
        client.put_function_concurrency(
            FunctionName=name, ReservedConcurrentExecutions=int(desired)
        )

    @staticmethod
    def _image(context: ResourceContext, properties: dict[str, Any]) -> ImageSource:
        image_uri = (properties.get("Code") or {}).get("ImageUri")
        image = context.zips.artifacts.find_image(image_uri)
        if image is None:
            raise context.template_error(
                "Code",
                "the local deployer runs an image function from the source folders that its "
                "Dockerfile copies, so the function needs Metadata Dockerfile and "
                f"DockerContext, as `sam build` does; got ImageUri {image_uri!r}",
            )
        return image

    @staticmethod
    def _zip(context: ResourceContext, properties: dict[str, Any]) -> BuiltZip:
        code = properties.get("Code", {})
        built = context.zips.for_location(code)
        if built is None:
            raise context.template_error(
                "Code",
                f"the local deployer deploys only code from a local folder (CodeUri); got {code!r}",
            )
        return built


def _is_image(properties: dict[str, Any]) -> bool:
    return properties.get("PackageType") == "Image"


def _configuration(properties: dict[str, Any]) -> dict[str, Any]:
    """Return the CreateFunction/UpdateFunctionConfiguration arguments of the properties."""
    configuration: dict[str, Any] = {}
    for name in CONFIGURATION_PROPERTIES:
        if name not in properties:
            continue
        value = properties[name]
        if name in INTEGER_PROPERTIES:
            value = int(value)
        elif name == "Environment":
            variables = value.get("Variables", {}) or {}
            value = {"Variables": {key: _variable(item) for key, item in variables.items()}}
        elif name == "KmsKeyArn":
            configuration["KMSKeyArn"] = value
            continue
        configuration[name] = value
    return configuration


def _variable(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class LayerVersionHandler(ResourceHandler):
    """AWS::Lambda::LayerVersion: each change publishes a new version, as CloudFormation does."""

    resource_type = "AWS::Lambda::LayerVersion"
    attributes = ("LayerVersionArn",)
    required_properties = ("Content",)
    handled_properties = (
        "LayerName",
        "Content",
        "CompatibleRuntimes",
        "CompatibleArchitectures",
        "Description",
        "LicenseInfo",
    )
    arn_format = "arn:aws:lambda:{region}:{account}:layer:{name}:1"

    def fingerprint(self, context: ResourceContext, properties: dict[str, Any]) -> dict[str, Any]:
        built = self._zip(context, properties)
        return {**properties, "Content": {"CodeSha256": built.sha256}}

    def exists(self, context: ResourceContext, record: dict[str, Any]) -> bool:
        name, version = _layer_version(record["PhysicalResourceId"])
        try:
            # moto 5.2.5 does not implement GetLayerVersionByArn.
            context.client("lambda").get_layer_version(LayerName=name, VersionNumber=version)
        except ClientError as error:
            if error_code(error) == "ResourceNotFoundException":
                return False
            raise
        return True

    def create(self, context: ResourceContext, properties: dict[str, Any]) -> Provisioned:
        name = properties.get("LayerName") or context.physical_name(LAYER_NAME_MAX_LENGTH)
        built = self._zip(context, properties)
        arguments: dict[str, Any] = {"LayerName": name, "Content": {"ZipFile": built.content}}
        for key in ("CompatibleRuntimes", "CompatibleArchitectures", "Description", "LicenseInfo"):
            if key in properties:
                arguments[key] = properties[key]
        layer = context.client("lambda").publish_layer_version(**arguments)
        return Provisioned(
            physical_id=layer["LayerVersionArn"],
            attributes={"LayerVersionArn": layer["LayerVersionArn"]},
        )

    def update(
        self, context: ResourceContext, properties: dict[str, Any], record: dict[str, Any]
    ) -> Provisioned:
        return self.create(context, properties)

    def delete(self, context: ResourceContext, record: dict[str, Any]) -> None:
        name, version = _layer_version(record["PhysicalResourceId"])
        context.client("lambda").delete_layer_version(LayerName=name, VersionNumber=version)

    def local_attribute(self, name: str, attribute: str, region: str, account_id: str) -> str:
        return self.arn_format.format(region=region, account=account_id, name=name)

    @staticmethod
    def _zip(context: ResourceContext, properties: dict[str, Any]) -> BuiltZip:
        content = properties.get("Content", {})
        built = context.zips.for_location(content)
        if built is None:
            raise context.template_error(
                "Content",
                "the local deployer deploys only layers from a local folder (ContentUri); "
                f"got {content!r}",
            )
        return built


def _layer_version(arn: str) -> tuple[str, int]:
    """Split arn:aws:lambda:REGION:ACCOUNT:layer:NAME:VERSION into NAME and VERSION."""
    name, version = arn.rsplit(":", 2)[-2:]
    return name, int(version)
