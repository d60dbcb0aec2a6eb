"""Local code folders of a template, and the zips that Lambda receives from them.

Before the SAM transform, as `sam build` and `sam deploy` do, every local CodeUri (functions
and Globals) and ContentUri (layers) is replaced by a placeholder S3 location whose key
names the folder. A local DefinitionUri (state machines, APIs) is replaced by the file's
content. An image function with Metadata Dockerfile gets a placeholder ImageUri (see
images.py). After the transform, the placeholder in Code or Content leads back to the folder.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from infra.localcloud.deploy.errors import TemplateError
from infra.localcloud.deploy.images import ImageSource, image_source

PLACEHOLDER_BUCKET = "mhpe-local-artifacts"
# Lambda's limit on the unzipped size of a function with its layers.
MAX_UNZIPPED_BYTES = 250 * 1024 * 1024
# Fixed entry time, so that the same files always give the same zip and the same sha256.
ZIP_ENTRY_TIME = (1980, 1, 1, 0, 0, 0)
SKIPPED_FOLDERS = frozenset({"__pycache__"})
SKIPPED_SUFFIXES = (".pyc", ".pyo")


@dataclass(frozen=True)
class LocalArtifact:
    """A folder of the template that becomes a function's or a layer's zip."""

    folder: Path
    # Prefix of every entry in the zip: "python/" for a layer that `sam build` lays out
    # with BuildMethod python3.x, so that its packages land in /opt/python.
    zip_prefix: str = ""
    is_layer: bool = False

    @property
    def import_dir(self) -> Path:
        """Return the folder that plays /var/task (a function) or /opt/python (a layer).

        A layer zipped as it is gets /opt/python from its own python/ folder. Without one,
        the folder itself is returned, although Lambda would import nothing from it.
        """
        if not self.is_layer or self.zip_prefix == "python/":
            return self.folder
        if (self.folder / "python").is_dir():
            return self.folder / "python"
        return self.folder


@dataclass(frozen=True)
class BuiltZip:
    """A zip's bytes with its sha256 in the base64 form that Lambda reports as CodeSha256."""

    content: bytes
    sha256: str


class ArtifactRegistry:
    """Placeholder S3 keys of the template's local folders, and the folders they stand for."""

    def __init__(self, template_path: Path) -> None:
        self.template_path = template_path
        self.template_dir = template_path.parent
        self._by_key: dict[str, LocalArtifact] = {}
        self._images: dict[str, ImageSource] = {}

    def register(self, key: str, artifact: LocalArtifact) -> dict[str, str]:
        """Remember the folder under key and return the placeholder S3 location."""
        self._by_key[key] = artifact
        return {"Bucket": PLACEHOLDER_BUCKET, "Key": key}

    def find(self, location: Any) -> LocalArtifact | None:
        """Return the folder of a Code or Content property, or None when it is not local."""
        if not isinstance(location, dict) or location.get("S3Bucket") != PLACEHOLDER_BUCKET:
            return None
        return self._by_key.get(str(location.get("S3Key")))

    def register_image(self, source: ImageSource) -> str:
        """Remember an image function's source folders and return its placeholder image URI."""
        self._images[source.image_uri] = source
        return source.image_uri

    def find_image(self, image_uri: Any) -> ImageSource | None:
        """Return the source folders of a placeholder image URI, or None when it is not one."""
        return self._images.get(image_uri) if isinstance(image_uri, str) else None

    @property
    def images(self) -> list[ImageSource]:
        return list(self._images.values())


def replace_local_paths(template: dict[str, Any], registry: ArtifactRegistry) -> None:
    """Replace local CodeUri, ContentUri and DefinitionUri values in place, as SAM CLI does.

    Raises TemplateError naming the resource and property when a folder or file is missing.
    """
    globals_function = template.get("Globals", {}).get("Function", {})
    if isinstance(globals_function, dict) and _is_local(globals_function.get("CodeUri")):
        folder = _local_folder(registry, "Globals", "CodeUri", globals_function["CodeUri"])
        globals_function["CodeUri"] = registry.register("Globals/Function", LocalArtifact(folder))

    for logical_id, resource in template["Resources"].items():
        properties = resource.get("Properties")
        if not isinstance(properties, dict):
            continue
        resource_type = resource["Type"]
        if resource_type == "AWS::Serverless::Function":
            _replace_function_code(registry, logical_id, properties, "CodeUri")
        elif resource_type == "AWS::Lambda::Function" and _is_local(properties.get("Code")):
            _replace_function_code(registry, logical_id, properties, "Code")
        elif resource_type == "AWS::Serverless::LayerVersion":
            _replace_layer_content(registry, logical_id, resource, "ContentUri")
        elif resource_type == "AWS::Lambda::LayerVersion" and _is_local(properties.get("Content")):
            _replace_layer_content(registry, logical_id, resource, "Content")
        elif resource_type == "AWS::Serverless::StateMachine":
            _inline_definition(registry, logical_id, properties, "DefinitionUri", "Definition")
        elif resource_type == "AWS::StepFunctions::StateMachine":
            _inline_definition(
                registry, logical_id, properties, "DefinitionS3Location", "DefinitionString"
            )
        elif resource_type in ("AWS::Serverless::Api", "AWS::Serverless::HttpApi"):
            _inline_definition(registry, logical_id, properties, "DefinitionUri", "DefinitionBody")
        if _is_image_function(resource):
            _replace_image(registry, logical_id, resource)


def _is_image_function(resource: dict[str, Any]) -> bool:
    """Return whether the local deployer reads the resource's image from a Dockerfile.

    It does for every SAM image function, so that image_source reports missing Metadata, and
    for an AWS::Lambda::Function image whose Metadata names a Dockerfile, as `sam build` does.
    """
    if resource["Properties"].get("PackageType") != "Image":
        return False
    if resource["Type"] == "AWS::Serverless::Function":
        return True
    metadata = resource.get("Metadata")
    return (
        resource["Type"] == "AWS::Lambda::Function"
        and isinstance(metadata, dict)
        and "Dockerfile" in metadata
    )


def _replace_image(registry: ArtifactRegistry, logical_id: str, resource: dict[str, Any]) -> None:
    """Set the placeholder ImageUri of an image function, as `sam build` sets the built one."""
    properties = resource["Properties"]
    command = (properties.get("ImageConfig") or {}).get("Command")
    source = image_source(registry.template_path, logical_id, resource["Metadata"], command)
    image_uri = registry.register_image(source)
    if resource["Type"] == "AWS::Serverless::Function":
        properties["ImageUri"] = image_uri
    else:
        properties["Code"] = {"ImageUri": image_uri}


def _is_local(value: Any) -> bool:
    return isinstance(value, str) and not value.startswith("s3://")


def _replace_function_code(
    registry: ArtifactRegistry, logical_id: str, properties: dict[str, Any], name: str
) -> None:
    value = properties.get(name)
    if value is None:
        return
    if not _is_local(value):
        raise TemplateError(
            registry.template_path,
            f"{value!r} is not a local folder; the local deployer only deploys code from "
            "folders next to the template",
            resource=logical_id,
            property_name=name,
        )
    folder = _local_folder(registry, logical_id, name, value)
    location = registry.register(f"{logical_id}/code", LocalArtifact(folder))
    if name == "Code":
        properties[name] = {"S3Bucket": location["Bucket"], "S3Key": location["Key"]}
    else:
        properties[name] = location


def _replace_layer_content(
    registry: ArtifactRegistry, logical_id: str, resource: dict[str, Any], name: str
) -> None:
    properties = resource["Properties"]
    value = properties.get(name)
    if value is None:
        return
    if not _is_local(value):
        raise TemplateError(
            registry.template_path,
            f"{value!r} is not a local folder; the local deployer only deploys layers from "
            "folders next to the template",
            resource=logical_id,
            property_name=name,
        )
    folder = _local_folder(registry, logical_id, name, value)
    build_method = str(resource.get("Metadata", {}).get("BuildMethod", ""))
    prefix = "python/" if build_method.startswith("python") else ""
    artifact = LocalArtifact(folder, zip_prefix=prefix, is_layer=True)
    location = registry.register(f"{logical_id}/content", artifact)
    if name == "Content":
        properties[name] = {"S3Bucket": location["Bucket"], "S3Key": location["Key"]}
    else:
        properties[name] = location


def _inline_definition(
    registry: ArtifactRegistry,
    logical_id: str,
    properties: dict[str, Any],
    uri_name: str,
    inline_name: str,
) -> None:
    value = properties.get(uri_name)
    if not _is_local(value):
        return
    path = registry.template_dir / value
    if not path.is_file():
        raise TemplateError(
            registry.template_path,
            f"file {value} does not exist",
            resource=logical_id,
            property_name=uri_name,
        )
    try:
        definition = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise TemplateError(
            registry.template_path,
            f"file {value} is not valid JSON or YAML: {error}",
            resource=logical_id,
            property_name=uri_name,
        ) from None
    if not isinstance(definition, dict):
        raise TemplateError(
            registry.template_path,
            f"file {value} must contain a state machine definition object",
            resource=logical_id,
            property_name=uri_name,
        )
    del properties[uri_name]
    if inline_name == "DefinitionString":
        properties[inline_name] = json.dumps(definition, indent=2)
    else:
        properties[inline_name] = definition


def _local_folder(registry: ArtifactRegistry, logical_id: str, name: str, value: str) -> Path:
    folder = (registry.template_dir / value).resolve()
    if not folder.is_dir():
        raise TemplateError(
            registry.template_path,
            f"folder {value} does not exist",
            resource=logical_id,
            property_name=name,
        )
    return folder


def build_zip(artifact: LocalArtifact) -> BuiltZip:
    """Zip the artifact's folder reproducibly: sorted entries, fixed times, no bytecode.

    Raises ValueError when the files exceed Lambda's unzipped size limit.
    """
    buffer = io.BytesIO()
    total_bytes = 0
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in _files_of(artifact.folder):
            total_bytes += path.stat().st_size
            if total_bytes > MAX_UNZIPPED_BYTES:
                raise ValueError(
                    f"folder {artifact.folder} exceeds Lambda's unzipped limit of "
                    f"{MAX_UNZIPPED_BYTES // (1024 * 1024)} MB"
                )
            name = artifact.zip_prefix + path.relative_to(artifact.folder).as_posix()
            entry = zipfile.ZipInfo(name, date_time=ZIP_ENTRY_TIME)
            mode = 0o755 if os.access(path, os.X_OK) else 0o644
            entry.external_attr = (0o100000 | mode) << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, path.read_bytes())
    content = buffer.getvalue()
    digest = base64.b64encode(hashlib.sha256(content).digest()).decode()
    return BuiltZip(content=content, sha256=digest)


def _files_of(folder: Path) -> list[Path]:
    files = []
    for root, folders, names in os.walk(folder):
        folders[:] = sorted(name for name in folders if name not in SKIPPED_FOLDERS)
        for name in sorted(names):
            if not name.endswith(SKIPPED_SUFFIXES):
                files.append(Path(root) / name)
    return files
