"""Container image functions, run by the local cloud from the folders their Dockerfile copies.

Lambda runs an image function's handler from the image's /var/task. The local cloud builds
no images: it runs the same handler from the source folders whose files the Dockerfile's
final stage copies into /var/task (or /opt/python), with the project's own Python packages
in place of those the image installs. Before the SAM transform, as `sam build` does, each
image function with Metadata Dockerfile and DockerContext gets a placeholder ImageUri. The
deployer records the folders behind that URI under state_dir/images, where the runtime
finds them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import posixpath
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from infra.localcloud.deploy.dockerfile import (
    LAMBDA_TASK_ROOT,
    CopyStep,
    DockerfileError,
    FinalStage,
    read_final_stage,
)
from infra.localcloud.deploy.errors import TemplateError

logger = logging.getLogger(__name__)

# Registry part of every placeholder image URI. No registry serves it: the URI only names
# the source folders recorded under state_dir/images.
PLACEHOLDER_REGISTRY = "localhost/localcloud-source"
IMAGES_FOLDER = "images"
DIGEST_LENGTH = 16
# Folders on sys.path in a Lambda image: the task root, then /opt/python (layers).
IMPORT_BASES = (LAMBDA_TASK_ROOT, "/opt/python")
HANDLER_PATTERN = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)+")
BASE_IMAGE_RUNTIME = re.compile(r"lambda/python:(\d+\.\d+)")
SKIPPED_FOLDERS = frozenset({"__pycache__"})
SKIPPED_SUFFIXES = (".pyc", ".pyo")

# Builds the TemplateError of a property of the function being read.
ErrorFactory = Callable[[str, str], TemplateError]


@dataclass(frozen=True)
class ImageSource:
    """The source folders that stand in for a function's container image, and its command."""

    image_uri: str
    dockerfile: Path
    # Folder of the handler module; plays /var/task.
    code_dir: Path
    # The other folders that the Dockerfile copies Python code from, in COPY order.
    import_dirs: tuple[Path, ...]
    # ImageConfig.Command when the template sets it, else the Dockerfile's CMD.
    command: tuple[str, ...]
    # "python3.12" for a public.ecr.aws/lambda/python:3.12 base image; "" when unknown.
    runtime: str

    @property
    def handler(self) -> str:
        return self.command[0]

    def to_json(self) -> dict[str, Any]:
        return {
            "ImageUri": self.image_uri,
            "Dockerfile": str(self.dockerfile),
            "CodeDir": str(self.code_dir),
            "ImportDirs": [str(folder) for folder in self.import_dirs],
            "Command": list(self.command),
            "Runtime": self.runtime,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ImageSource:
        return cls(
            image_uri=str(data["ImageUri"]),
            dockerfile=Path(data["Dockerfile"]),
            code_dir=Path(data["CodeDir"]),
            import_dirs=tuple(Path(folder) for folder in data["ImportDirs"]),
            command=tuple(str(part) for part in data["Command"]),
            runtime=str(data.get("Runtime", "")),
        )


def image_source(template_path: Path, logical_id: str, metadata: Any, command: Any) -> ImageSource:
    """Read an image function's Metadata and Dockerfile into the folders that run it locally.

    metadata is the resource's Metadata (Dockerfile, DockerContext, DockerBuildArgs), as
    `sam build` reads it; command is ImageConfig.Command or None. Raises TemplateError when
    the Dockerfile or a source it copies is missing, when no command names a handler, or
    when the Dockerfile does not copy the handler module into /var/task.
    """

    def error(property_name: str, reason: str) -> TemplateError:
        return TemplateError(
            template_path, reason, resource=logical_id, property_name=property_name
        )

    context_dir, dockerfile, build_args = _read_metadata(template_path, metadata, error)
    try:
        stage = read_final_stage(dockerfile, build_args)
    except DockerfileError as problem:
        raise error("Metadata.Dockerfile", str(problem)) from None

    command = _command(command, stage, dockerfile, error)
    copies = _python_copies(context_dir, dockerfile, stage, error)
    code_dir = _handler_folder(command[0], copies, dockerfile, error)
    import_dirs = tuple(
        dict.fromkeys(copy.import_root for copy in copies if copy.import_root != code_dir)
    )
    digest = _source_digest(command, code_dir, import_dirs, context_dir, stage)
    runtime_match = BASE_IMAGE_RUNTIME.search(stage.base_image)
    return ImageSource(
        image_uri=f"{PLACEHOLDER_REGISTRY}/{logical_id.lower()}:{digest[:DIGEST_LENGTH]}",
        dockerfile=dockerfile,
        code_dir=code_dir,
        import_dirs=import_dirs,
        command=command,
        runtime=f"python{runtime_match.group(1)}" if runtime_match else "",
    )


def _read_metadata(
    template_path: Path, metadata: Any, error: ErrorFactory
) -> tuple[Path, Path, dict[str, str]]:
    """Return the build context folder, the Dockerfile and the build arguments of Metadata."""
    if not isinstance(metadata, dict) or "Dockerfile" not in metadata:
        raise error(
            "Metadata",
            "an image function needs Metadata Dockerfile and DockerContext, from which "
            "`sam build` builds the image and the local cloud finds the handler's folder",
        )
    context_value = metadata.get("DockerContext")
    if not isinstance(context_value, str):
        raise error(
            "Metadata.DockerContext",
            "missing: set it to the image's build context folder, relative to the template",
        )
    context_dir = (template_path.parent / context_value).resolve()
    if not context_dir.is_dir():
        raise error("Metadata.DockerContext", f"folder {context_value} does not exist")
    dockerfile = context_dir / str(metadata["Dockerfile"])
    if not dockerfile.is_file():
        raise error(
            "Metadata.Dockerfile",
            f"file {metadata['Dockerfile']} does not exist in the build context {context_dir}",
        )
    build_args = metadata.get("DockerBuildArgs", {}) or {}
    if not isinstance(build_args, dict):
        raise error("Metadata.DockerBuildArgs", "must map build argument names to values")
    return context_dir, dockerfile, {str(name): str(value) for name, value in build_args.items()}


def save_image_sources(state_dir: Path, sources: Iterable[ImageSource]) -> None:
    """Record each source under state_dir/images, where the runtime looks an image URI up."""
    for source in sources:
        path = _record_path(state_dir, source.image_uri)
        text = json.dumps(source.to_json(), indent=2, sort_keys=True)
        if path.is_file() and path.read_text() == text:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        partial.write_text(text)
        partial.replace(path)
        logger.info(
            "recorded image %s: handler %s in %s", source.image_uri, source.handler, source.code_dir
        )


def load_image_source(state_dir: Path, image_uri: str) -> ImageSource | None:
    """Return the source recorded for a placeholder image URI, or None if there is none.

    Raises ValueError when the record is not the JSON that save_image_sources writes.
    """
    if not image_uri.startswith(PLACEHOLDER_REGISTRY + "/"):
        return None
    path = _record_path(state_dir, image_uri)
    if not path.is_file():
        return None
    try:
        return ImageSource.from_json(json.loads(path.read_text()))
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise ValueError(
            f"image record {path} is invalid ({error!r}); redeploy the stack to rewrite it"
        ) from None


def _record_path(state_dir: Path, image_uri: str) -> Path:
    name = image_uri.removeprefix(PLACEHOLDER_REGISTRY + "/").replace(":", "-")
    return state_dir / IMAGES_FOLDER / f"{name}.json"


def _command(
    command: Any, stage: FinalStage, dockerfile: Path, error: ErrorFactory
) -> tuple[str, ...]:
    if command is not None:
        if (
            not isinstance(command, list)
            or not command
            or not all(isinstance(part, str) for part in command)
        ):
            raise error(
                "ImageConfig.Command",
                f"must be a list of strings, the first naming the handler; got {command!r}",
            )
        result = tuple(command)
    elif stage.command:
        result = stage.command
    else:
        raise error(
            "ImageConfig.Command",
            f"missing, and {dockerfile} has no CMD in exec form such as "
            '["app.lambda_handler"]; one of them must name the handler',
        )
    if not HANDLER_PATTERN.fullmatch(result[0]):
        raise error(
            "ImageConfig.Command",
            f"handler {result[0]!r} is invalid: expected MODULE.FUNCTION, e.g. app.lambda_handler",
        )
    return result


@dataclass(frozen=True)
class _PythonCopy:
    """A file or folder of Python code that the Dockerfile copies, and where it lands."""

    local_path: Path
    image_path: str
    # The local folder that plays /var/task (or /opt/python) for this copy: for
    # `COPY layers/common/mhpe /var/task/mhpe` it is layers/common.
    import_root: Path

    def provides(self, image_file: str) -> bool:
        """Return whether this copy puts a file at image_file."""
        if self.local_path.is_file():
            return self.image_path == image_file
        if not image_file.startswith(self.image_path + "/"):
            return False
        return (self.local_path / image_file.removeprefix(self.image_path + "/")).is_file()


def _python_copies(
    context_dir: Path, dockerfile: Path, stage: FinalStage, error: ErrorFactory
) -> list[_PythonCopy]:
    """Return the final stage's copies of Python code into /var/task or /opt/python.

    Copies without Python code (configuration, requirements files) and copies to other
    folders are left out, because they add nothing to sys.path.
    """
    copies = []
    for step in stage.copies:
        for local_path in _sources(context_dir, dockerfile, step, error):
            image_path = _image_path(local_path, step)
            if not _holds_python(local_path):
                continue
            if not any(_is_under(image_path, base) for base in IMPORT_BASES):
                continue
            root = _import_root(local_path, image_path)
            if root is None:
                raise error(
                    "Metadata.Dockerfile",
                    f"{dockerfile}, line {step.line_number}: copies {local_path} to "
                    f"{image_path} under another name; the local cloud runs image functions "
                    "from the source folders, so copied Python code must keep its name "
                    f"(e.g. COPY lib/mypackage {LAMBDA_TASK_ROOT}/mypackage)",
                )
            copies.append(_PythonCopy(local_path, image_path, root))
    return copies


def _sources(
    context_dir: Path, dockerfile: Path, step: CopyStep, error: ErrorFactory
) -> list[Path]:
    paths = []
    for source in step.sources:
        if _has_wildcard(source):
            matches = sorted(context_dir.glob(source))
        else:
            # normpath, not resolve: Docker copies a symbolic link's path, not its target's.
            candidate = Path(os.path.normpath(context_dir / source))
            matches = [candidate] if candidate.exists() else []
        if not matches:
            raise error(
                "Metadata.Dockerfile",
                f"{dockerfile}, line {step.line_number}: source {source} not found in the "
                f"build context {context_dir}",
            )
        for match in matches:
            if not match.is_relative_to(context_dir):
                raise error(
                    "Metadata.Dockerfile",
                    f"{dockerfile}, line {step.line_number}: source {source} is outside the "
                    f"build context {context_dir}, which Docker does not allow",
                )
            paths.append(match)
    return paths


def _has_wildcard(source: str) -> bool:
    return any(character in source for character in "*?[")


def _image_path(local_path: Path, step: CopyStep) -> str:
    """Return where the copy puts local_path: a folder's contents, or one file."""
    destination = step.destination
    into_folder = (
        destination.endswith("/")
        or len(step.sources) > 1
        or any(_has_wildcard(source) for source in step.sources)
        or posixpath.normpath(destination) in IMPORT_BASES
    )
    destination = posixpath.normpath(destination)
    if local_path.is_dir() or not into_folder:
        return destination
    return posixpath.join(destination, local_path.name)


def _holds_python(local_path: Path) -> bool:
    if local_path.is_file():
        return local_path.suffix == ".py"
    return next(local_path.rglob("*.py"), None) is not None


def _is_under(image_path: str, base: str) -> bool:
    return image_path == base or image_path.startswith(base + "/")


def _import_root(local_path: Path, image_path: str) -> Path | None:
    """Return the local folder that plays the import base holding image_path, if one exists."""
    for base in IMPORT_BASES:
        if not _is_under(image_path, base):
            continue
        parts = PurePosixPath(image_path).relative_to(base).parts
        local_parts = local_path.parts
        if parts and tuple(local_parts[-len(parts) :]) != parts:
            return None
        root = local_path
        for _ in parts:
            root = root.parent
        return root
    return None


def _handler_folder(
    handler: str, copies: list[_PythonCopy], dockerfile: Path, error: ErrorFactory
) -> Path:
    """Return the import root of the copy that puts the handler's module into /var/task."""
    module_path = handler.rsplit(".", 1)[0].replace(".", "/")
    image_files = [
        posixpath.join(LAMBDA_TASK_ROOT, f"{module_path}.py"),
        posixpath.join(LAMBDA_TASK_ROOT, module_path, "__init__.py"),
    ]
    # A later COPY overwrites an earlier one, so the last copy that provides the module wins.
    for copy in reversed(copies):
        if any(copy.provides(image_file) for image_file in image_files):
            return copy.import_root
    raise error(
        "ImageConfig.Command",
        f"{dockerfile} copies no {module_path}.py into {LAMBDA_TASK_ROOT}, so the image has "
        f"no module for the handler {handler}",
    )


def _source_digest(
    command: tuple[str, ...],
    code_dir: Path,
    import_dirs: tuple[Path, ...],
    context_dir: Path,
    stage: FinalStage,
) -> str:
    """Return the sha256 of the command, the folders and every file the final stage copies.

    Any change that the local run would see gives a new image URI, so a redeployment
    updates the function's code, as pushing a new image does.
    """
    digest = hashlib.sha256()
    header = {
        "command": list(command),
        "code_dir": str(code_dir),
        "import_dirs": [str(folder) for folder in import_dirs],
    }
    digest.update(json.dumps(header, sort_keys=True).encode())
    for step in stage.copies:
        for source in step.sources:
            for path in _files_under(context_dir, source):
                digest.update(str(path.relative_to(context_dir)).encode() + b"\0")
                # A broken symbolic link counts by its name only.
                digest.update((path.read_bytes() if path.is_file() else b"") + b"\0")
    return digest.hexdigest()


def _files_under(context_dir: Path, source: str) -> list[Path]:
    matches = sorted(context_dir.glob(source)) if _has_wildcard(source) else [context_dir / source]
    files = []
    for match in matches:
        if not match.is_dir():
            files.append(match)
            continue
        for root, folders, names in os.walk(match):
            folders[:] = sorted(name for name in folders if name not in SKIPPED_FOLDERS)
            files.extend(
                Path(root) / name for name in sorted(names) if not name.endswith(SKIPPED_SUFFIXES)
            )
    return files
