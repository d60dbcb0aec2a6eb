"""Turn the Lambda functions that moto stores into specs the local runtime can run.

moto keeps each function's code as zip bytes, as Lambda does. The runtime needs folders, so
each code and layer zip is extracted once under the state folder, keyed by its sha256.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import threading
import zipfile
from pathlib import Path
from typing import Any

from infra.localcloud.runtime.spec import FunctionSpec

logger = logging.getLogger(__name__)


class FunctionCodeCache:
    """Extracts function and layer zips under state_dir/code and state_dir/layers."""

    def __init__(self, state_dir: Path) -> None:
        self._code_root = state_dir / "code"
        self._layer_root = state_dir / "layers"
        self._lock = threading.Lock()

    def spec_for(self, function: Any) -> FunctionSpec:
        """Build the runtime spec of a moto `LambdaFunction`."""
        code_dir = self._extract(
            self._code_root / function.function_name,
            function.code_sha_256,
            function.code_bytes,
        )
        layer_dirs = tuple(self._layer_dir(function, layer["Arn"]) for layer in function.layers)
        environment = {key: str(value) for key, value in function.environment_vars.items()}
        reserved = function.reserved_concurrency
        configuration = {
            "handler": function.handler,
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
            handler=function.handler,
            code_dir=code_dir,
            layer_dirs=layer_dirs,
            environment=environment,
            timeout_s=float(function.timeout),
            memory_mb=int(function.memory_size),
            reserved_concurrency=None if reserved is None else int(reserved),
            runtime=function.run_time or "python3.12",
            revision=revision,
        )

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
