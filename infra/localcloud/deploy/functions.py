"""`local_functions`: every Lambda function of a template, as `mhpe invoke` runs it locally."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.localcloud.deploy.engine import DEFAULT_ACCOUNT_ID, DEFAULT_REGION
from infra.localcloud.deploy.intrinsics import NO_VALUE, IntrinsicResolver, Location
from infra.localcloud.deploy.lookups import TemplateLookup
from infra.localcloud.deploy.parameters import parameter_text
from infra.localcloud.deploy.prepare import PreparedTemplate, prepare_template
from infra.localcloud.deploy.state import StackRecord

logger = logging.getLogger(__name__)

# SAM CLI's stack name for `sam local invoke`, used when no deployed stack is given.
LOCAL_STACK_NAME = "local"
# Lambda's defaults when a function declares no Timeout or MemorySize.
DEFAULT_TIMEOUT_S = 3.0
DEFAULT_MEMORY_MB = 128
FUNCTION_TYPE = "AWS::Lambda::Function"
LAYER_TYPE = "AWS::Lambda::LayerVersion"


@dataclass(frozen=True)
class LocalFunction:
    """A template's function as a local runtime loads it: folders, handler, settings."""

    logical_id: str
    # The deployed function's name when a stack record is given, else the logical id.
    function_name: str
    code_dir: Path  # absolute; plays /var/task
    handler: str
    runtime: str
    # Absolute folders that each play /opt/python, in the order of the function's Layers.
    # For an image function: the other folders its Dockerfile copies Python code from.
    layer_dirs: tuple[Path, ...] = ()
    environment: dict[str, str] = field(default_factory=dict)
    timeout_s: float = DEFAULT_TIMEOUT_S
    memory_mb: int = DEFAULT_MEMORY_MB
    reserved_concurrency: int | None = None


def local_functions(
    template_path: Path,
    parameter_overrides: Mapping[str, str] = {},
    stack: StackRecord | None = None,
) -> dict[str, LocalFunction]:
    """Return every function of the template that runs from local folders, by logical id.

    Those are zip functions whose code is a local folder, and image functions that the
    template builds from a Dockerfile (see images.py).

    Globals are merged, as the SAM transform merges them. With a stack record, Ref,
    Fn::GetAtt and Fn::Sub in the environment resolve to the deployed values, and the
    record's parameters apply unless overrides are passed. Without one, a Ref to a
    resource becomes its logical id, as SAM CLI does. Raises TemplateError when the
    template is invalid.
    """
    region = stack.region if stack else DEFAULT_REGION
    account_id = stack.account_id if stack else DEFAULT_ACCOUNT_ID
    overrides = parameter_overrides or (stack.parameters if stack else {})
    prepared = prepare_template(
        template_path,
        stack_name=stack.stack_name if stack else LOCAL_STACK_NAME,
        parameter_overrides=overrides,
        region=region,
        account_id=account_id,
        require_handlers=False,
    )
    lookup = TemplateLookup(prepared.resources, region, account_id, stack)
    resolver = prepared.resolver(lookup, lenient=True)

    functions = {}
    for logical_id in prepared.active_ids:
        resource = prepared.resources[logical_id]
        if resource["Type"] != FUNCTION_TYPE:
            continue
        function = _local_function(prepared, resolver, lookup, logical_id, resource)
        if function is not None:
            functions[logical_id] = function
    return functions


def _local_function(
    prepared: PreparedTemplate,
    resolver: IntrinsicResolver,
    lookup: TemplateLookup,
    logical_id: str,
    resource: dict[str, Any],
) -> LocalFunction | None:
    properties = resource.get("Properties", {}) or {}

    def value(name: str, default: Any = None) -> Any:
        if name not in properties:
            return default
        result = resolver.resolve(properties[name], Location("resource", logical_id, name))
        return default if result is NO_VALUE else result

    code = properties.get("Code") or {}
    artifact = prepared.artifacts.find(code)
    image = prepared.artifacts.find_image(code.get("ImageUri") if isinstance(code, dict) else None)
    if image is not None:
        code_dir, handler, runtime = image.code_dir, image.handler, image.runtime
        layer_dirs = image.import_dirs
    elif artifact is not None:
        code_dir = artifact.import_dir
        handler, runtime = str(value("Handler", "")), str(value("Runtime", ""))
        layer_dirs = _layer_dirs(prepared, logical_id, properties.get("Layers", []))
    else:
        # NOTE: inline code, S3 code and images without a Dockerfile have no local folder to run.
        logger.warning("function %s has no local code folder; `mhpe invoke` skips it", logical_id)
        return None

    variables = (value("Environment", {}) or {}).get("Variables", {}) or {}
    reserved = value("ReservedConcurrentExecutions")
    return LocalFunction(
        logical_id=logical_id,
        function_name=str(lookup.ref(logical_id)),
        code_dir=code_dir,
        handler=handler,
        runtime=runtime,
        layer_dirs=layer_dirs,
        environment={name: parameter_text(item) for name, item in variables.items()},
        timeout_s=float(value("Timeout", DEFAULT_TIMEOUT_S)),
        memory_mb=int(value("MemorySize", DEFAULT_MEMORY_MB)),
        reserved_concurrency=None if reserved is None else int(reserved),
    )


def _layer_dirs(prepared: PreparedTemplate, logical_id: str, layers: Any) -> tuple[Path, ...]:
    """Return the folders of the layers that the template builds from local folders."""
    folders = []
    for layer in layers if isinstance(layers, list) else []:
        target = layer.get("Ref") if isinstance(layer, dict) else None
        resource = prepared.resources.get(target) if isinstance(target, str) else None
        if resource is None or resource["Type"] != LAYER_TYPE:
            # NOTE: a layer given by ARN lives in some account's Lambda, not in a folder.
            logger.warning(
                "function %s: layer %r is not a local folder; skipped", logical_id, layer
            )
            continue
        artifact = prepared.artifacts.find((resource.get("Properties", {}) or {}).get("Content"))
        if artifact is None:
            logger.warning("function %s: layer %s has no local folder; skipped", logical_id, target)
            continue
        folders.append(artifact.import_dir)
    return tuple(folders)
