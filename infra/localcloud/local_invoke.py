"""`mhpe invoke`: run one function of a SAM template once, as `sam local invoke` does."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from infra.localcloud.config import ACCOUNT_ID, CLIENT_ENVIRONMENT, REGION
from infra.localcloud.daemon import find_running
from infra.localcloud.runtime.pool import InvocationResult, Runtime
from infra.localcloud.runtime.spec import FunctionSpec


class LocalInvokeError(Exception):
    """The function, its event or its variables file could not be used."""


def invoke_once(
    template_path: Path,
    function: str,
    *,
    event_path: Path | None,
    env_vars_path: Path | None,
    state_dir: Path,
    stack_name: str,
    endpoint_url: str | None = None,
) -> InvocationResult:
    """Invoke FUNCTION (a logical id) of the template with the event; return the result.

    The function's AWS clients go to endpoint_url when it is given, else to the local cloud
    of state_dir. Raises LocalInvokeError when neither exists, so that a function never
    reaches real AWS by default.
    """
    from infra.localcloud.deploy import TemplateError, load_stack, local_functions

    base_environment = _cloud_environment(state_dir, endpoint_url)
    event = _read_json(event_path, "event") if event_path else {}
    env_vars = _read_json(env_vars_path, "variables") if env_vars_path else {}
    try:
        functions = local_functions(template_path, stack=load_stack(state_dir, stack_name))
    except TemplateError as error:
        raise LocalInvokeError(str(error)) from None
    if function not in functions:
        raise LocalInvokeError(
            f"function {function!r} not found in {template_path}; "
            f"functions: {', '.join(sorted(functions)) or 'none'}"
        )
    local = functions[function]
    environment = dict(local.environment)
    # As `sam local invoke`: "Parameters" sets variables of every function, a logical id's
    # section those of that function; only variables the template declares are set.
    for overrides in (env_vars.get("Parameters", {}), env_vars.get(function, {})):
        environment.update({k: str(v) for k, v in overrides.items() if k in environment})
    spec = FunctionSpec(
        function_name=function,
        function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{function}",
        handler=local.handler,
        code_dir=local.code_dir,
        layer_dirs=tuple(local.layer_dirs),
        environment=environment,
        timeout_s=float(local.timeout_s),
        memory_mb=int(local.memory_mb),
        runtime=local.runtime,
        revision="local",
    )
    with tempfile.TemporaryDirectory(prefix="mhpe-invoke-") as log_dir:
        runtime = Runtime(Path(log_dir), base_environment, max_workers_per_function=1)
        try:
            return runtime.invoke(spec, json.dumps(event).encode())
        finally:
            runtime.shutdown()


def _cloud_environment(state_dir: Path, endpoint_url: str | None) -> dict[str, str]:
    """Return the variables that aim the function's AWS and MLflow clients at a cloud."""
    # The handler runs from the source tree, which `sam build` packages: leave no __pycache__.
    environment = {**CLIENT_ENVIRONMENT, "PYTHONDONTWRITEBYTECODE": "1"}
    if endpoint_url is not None:
        environment["AWS_ENDPOINT_URL"] = endpoint_url
        return environment
    running = find_running(state_dir)
    if running is None:
        raise LocalInvokeError(
            f"the local cloud is not running for {state_dir}; start it with `mhpe cloud up`, "
            "or pass --endpoint-url URL to send the function's AWS calls elsewhere"
        )
    environment["AWS_ENDPOINT_URL"] = running.endpoint_url
    if running.mlflow_url:
        environment["MLFLOW_TRACKING_URI"] = running.mlflow_url
    return environment


def _read_json(path: Path, what: str) -> dict:
    try:
        value = json.loads(path.read_text())
    except FileNotFoundError:
        raise LocalInvokeError(f"{what} file {path} not found") from None
    except json.JSONDecodeError as error:
        raise LocalInvokeError(f"{what} file {path} is not valid JSON: {error}") from None
    if not isinstance(value, dict):
        raise LocalInvokeError(f"{what} file {path} must hold a JSON object")
    return value
