"""Turn the Lambda functions that moto stores into specs the local runtime can run.

moto keeps each zip function's code as zip bytes, as Lambda does. The runtime needs folders, so
each code and layer zip is extracted once under the state folder, keyed by its sha256. An image
function runs from the source folders that the deployer recorded for its image URI under
state_dir/images.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import threading
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infra.localcloud.runtime.spec import FunctionSpec

if TYPE_CHECKING:
    from infra.localcloud.deploy.images import ImageSource

logger = logging.getLogger(__name__)


class FunctionCodeCache:
    """Extracts function and layer zips under state_dir/code and state_dir/layers.

    It also reads, once per image URI, the source folders recorded under state_dir/images.
    """

    def __init__(self, state_dir: Path) -> None:
        self._state_dir = state_dir
        self._code_root = state_dir / "code"
        self._layer_root = state_dir / "layers"
        self._lock = threading.Lock()
        self._images: dict[str, ImageSource] = {}

    def spec_for(self, function: Any) -> FunctionSpec:
        """Build the runtime spec of a moto `LambdaFunction`, zip or image.

        Raises LookupError when a layer version or an image's recorded source is missing, and
        ValueError when that record is invalid.
        """
        environment = {key: str(value) for key, value in function.environment_vars.items()}
        if function.package_type == "Image":
            # NOTE: an image function runs from the source folders, not from a copy, so an
            # edit after deployment reaches new workers without a redeployment, while warm
            # workers keep the modules they imported.
            source = self._image_source(function)
            code_dir, layer_dirs = source.code_dir, source.import_dirs
            handler, runtime = source.handler, source.runtime
            # Python must not write __pycache__ folders into the template's source folders.
            environment["PYTHONDONTWRITEBYTECODE"] = "1"
        else:
            code_dir = self._extract(
                self._code_root / function.function_name,
                function.code_sha_256,
                function.code_bytes,
            )
            layer_dirs = tuple(self._layer_dir(function, layer["Arn"]) for layer in function.layers)
            handler, runtime = function.handler, function.run_time
        reserved = function.reserved_concurrency
        configuration = {
            "handler": handler,
            "environment": environment,
            "timeout": function.timeout,
            "memory": function.memory_size,
            "layers": [layer["Arn"] for layer in function.layers],
            "reserved": reserved,
        }
        revision = hashlib.sha256(
            (function.code_sha_256 + json.dumps(configuration, sort_keys=True)).encode()
        ).hexdigest()[:16]
        return FunctionSpec(
            function_name=function.function_name,
            function_arn=function.function_arn,
            handler=handler,
            code_dir=code_dir,
            layer_dirs=layer_dirs,
            environment=environment,
            timeout_s=float(function.timeout),
            memory_mb=int(function.memory_size),
            reserved_concurrency=None if reserved is None else int(reserved),
            runtime=runtime or "python3.12",
            revision=revision,
        )

    def _image_source(self, function: Any) -> ImageSource:
        """Return the source folders that the deployer recorded for the function's image URI."""
        from infra.localcloud.deploy.images import load_image_source

        image_uri = str(function.code.get("ImageUri", ""))
        with self._lock:
            source = self._images.get(image_uri)
        if source is not None:
            return source
        source = load_image_source(self._state_dir, image_uri)
        if source is None:
            raise LookupError(
                f"image {image_uri} of function {function.function_name} has no recorded source "
                f"folders in {self._state_dir}; the local cloud runs only image functions that "
                "`mhpe deploy` deployed from a template with Metadata Dockerfile"
            )
        with self._lock:
            self._images[image_uri] = source
        return source

    def _layer_dir(self, function: Any, layer_arn: str) -> Path:
        from moto.awslambda.utils import get_backend

        backend = get_backend(function.account_id, function.region)
        layer_version = backend.layers_versions_by_arn(layer_arn)
        if layer_version is None:
            raise LookupError(f"layer version {layer_arn} of {function.function_name} not found")
        # The layer's zip lands in /opt on Lambda, and Python finds packages in /opt/python.
        root = self._extract(
            self._layer_root / layer_version.name,
            layer_version.code_sha_256,
            layer_version.code_bytes,
        )
        return root / "python"

    def _extract(self, parent: Path, sha256: str, zip_bytes: bytes) -> Path:
        folder_name = hashlib.sha256(sha256.encode()).hexdigest()[:16]
        target = parent / folder_name
        with self._lock:
            if target.is_dir():
                return target
            partial = parent / f".{folder_name}.partial"
            partial.mkdir(parents=True, exist_ok=True)
            with zipfile.ZipFile(io.BytesIO(zip_bytes)) as archive:
                archive.extractall(partial)
            partial.rename(target)
            logger.info("extracted code %s into %s", sha256[:12], target)
        return target
