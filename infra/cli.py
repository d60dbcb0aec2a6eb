"""The `mhpe` command line: the local cloud, deployment and local invocation."""

from __future__ import annotations

import json
import sys
import time
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import click
import requests

from infra.localcloud.config import (
    DEFAULT_MLFLOW_PORT,
    DEFAULT_PORT,
    CloudSettings,
    default_state_dir,
    parse_retry_delays,
)

DEFAULT_STACK = "mhpe"
DEFAULT_TEMPLATE = Path("template.yaml")


def _settings(context: click.Context, **overrides: Any) -> CloudSettings:
    return CloudSettings(state_dir=context.obj["state_dir"], **overrides)


def _running_endpoint(state_dir: Path) -> str:
    from infra.localcloud.daemon import find_running

    running = find_running(state_dir)
    if running is None:
        raise click.ClickException(
            f"the local cloud is not running for {state_dir}; start it with `mhpe cloud up`"
        )
    return running.endpoint_url


@click.group()
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder of the local cloud's state and logs [default: $MHPE_STATE_DIR or .localcloud].",
)
@click.pass_context
def main(context: click.Context, state_dir: Path | None) -> None:
    """M-HPE: the Modular House Pricing Engine."""
    context.obj = {"state_dir": (state_dir or default_state_dir()).resolve()}


@main.group()
def cloud() -> None:
    """Run the embedded local cloud on 127.0.0.1."""


@cloud.command("up")
@click.option("--port", type=int, default=DEFAULT_PORT, show_default=True, help="AWS API port.")
@click.option("--mlflow-port", type=int, default=DEFAULT_MLFLOW_PORT, show_default=True,
              help="MLflow tracking server port.")  # fmt: skip
@click.option("--no-mlflow", is_flag=True, help="Do not start the MLflow server.")
@click.option("--async-retry-delays", default="60,120", show_default=True,
              help="Seconds before each retry of a failed asynchronous invocation.")  # fmt: skip
@click.option("--no-redeploy", is_flag=True, help="Do not redeploy the stacks deployed before.")
@click.pass_context
def cloud_up(
    context: click.Context,
    port: int,
    mlflow_port: int,
    no_mlflow: bool,
    async_retry_delays: str,
    no_redeploy: bool,
) -> None:
    """Start the local cloud in the background and wait until it is ready."""
    from infra.localcloud import daemon

    try:
        delays = parse_retry_delays(async_retry_delays)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--async-retry-delays") from None
    settings = _settings(
        context,
        port=port,
        mlflow_port=mlflow_port,
        start_mlflow=not no_mlflow,
        async_retry_delays_s=delays,
    )
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    try:
        running = daemon.start(settings)
    except daemon.CloudError as error:
        raise click.ClickException(str(error)) from None
    click.echo(
        f"local cloud running on {running.endpoint_url} (pid {running.pid}, "
        f"{time.monotonic() - started:.1f} s); MLflow on {running.mlflow_url or 'off'}"
    )
    if not no_redeploy:
        _redeploy(settings)


def _redeploy(settings: CloudSettings) -> None:
    from infra.localcloud.deploy import DeployError, TemplateError, deploy, list_stacks

    for record in list_stacks(settings.state_dir):
        click.echo(f"redeploying stack {record.stack_name} from {record.template_path}")
        try:
            deploy(
                Path(record.template_path),
                stack_name=record.stack_name,
                endpoint_url=settings.endpoint_url,
                state_dir=settings.state_dir,
                parameter_overrides=record.parameters,
            )
        except (TemplateError, DeployError, TimeoutError, FileNotFoundError) as error:
            click.echo(f"could not redeploy stack {record.stack_name}: {error}", err=True)


@cloud.command("down")
@click.pass_context
def cloud_down(context: click.Context) -> None:
    """Stop the local cloud; its state stays in the state folder."""
    from infra.localcloud import daemon

    settings = _settings(context)
    if daemon.stop(settings):
        click.echo(f"local cloud stopped; state kept in {settings.state_dir}")
    else:
        click.echo(f"no local cloud was running for {settings.state_dir}")


@cloud.command("status")
@click.pass_context
def cloud_status(context: click.Context) -> None:
    """Print whether the local cloud runs, and where."""
    from infra.localcloud import daemon

    running = daemon.find_running(context.obj["state_dir"])
    if running is None:
        click.echo(json.dumps({"status": "stopped", "state_dir": str(context.obj["state_dir"])}))
        sys.exit(3)
    status = daemon.health(running.endpoint_url) or {"status": "not answering", "pid": running.pid}
    click.echo(json.dumps(status, indent=2))


@cloud.command("logs")
@click.argument("function")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new lines as they come.")
@click.option("--stack-name", default=DEFAULT_STACK, show_default=True)
@click.pass_context
def cloud_logs(context: click.Context, function: str, follow: bool, stack_name: str) -> None:
    """Print a function's logs; FUNCTION is its name or its logical id in the template."""
    state_dir: Path = context.obj["state_dir"]
    log_dir = state_dir / "logs" / "functions"
    # A function created outside a stack (with awslocal, say) is found by its log file.
    name = function
    if not (log_dir / f"{function}.log").exists():
        name = _physical_function_name(state_dir, stack_name, function)
    path = log_dir / f"{name}.log"
    if not path.exists() and not follow:
        raise click.ClickException(f"no logs for function {name} yet (looked in {path})")
    position = 0
    while True:
        if path.exists():
            with path.open("r", errors="replace") as file:
                file.seek(position)
                chunk = file.read()
                position = file.tell()
            if chunk:
                click.echo(chunk, nl=False)
        if not follow:
            return
        time.sleep(0.5)


def _physical_function_name(state_dir: Path, stack_name: str, function: str) -> str:
    """Return the deployed name of FUNCTION, given as a logical id or as a function name.

    Raises ClickException when the stack is not deployed or has no such function, listing
    the functions it has.
    """
    from infra.localcloud.deploy import load_stack

    record = load_stack(state_dir, stack_name)
    if record is None:
        raise click.ClickException(
            f"stack {stack_name} is not deployed in {state_dir}; deploy it with `mhpe deploy` "
            "or choose another with --stack-name"
        )
    functions = {
        logical_id: resource["PhysicalResourceId"]
        for logical_id, resource in record.resources.items()
        if resource.get("Type") == "AWS::Lambda::Function"
    }
    if function in functions:
        return functions[function]
    if function in functions.values():
        return function
    deployed = ", ".join(f"{logical_id} ({name})" for logical_id, name in sorted(functions.items()))
    raise click.ClickException(
        f"function {function} does not exist in stack {stack_name}; deployed functions: "
        f"{deployed or 'none'}"
    )


@cloud.command("fire")
@click.argument("name")
@click.pass_context
def cloud_fire(context: click.Context, name: str) -> None:
    """Fire a scheduled rule or Scheduler schedule now; NAME is its name or ARN."""
    endpoint = _running_endpoint(context.obj["state_dir"])
    response = requests.post(f"{endpoint}/_mhpe/schedules/{name}/fire", timeout=30)
    body = response.json()
    if response.status_code != 200:
        raise click.ClickException(body.get("message", response.text))
    click.echo(json.dumps(body, indent=2))


def _parse_overrides(values: tuple[str, ...]) -> dict[str, str]:
    overrides = {}
    for value in values:
        key, separator, setting = value.partition("=")
        if not separator or not key:
            raise click.BadParameter(
                f"{value!r} is not KEY=VALUE", param_hint="--parameter-overrides"
            )
        overrides[key] = setting
    return overrides


@main.command("deploy")
@click.option("--template", "-t", type=click.Path(dir_okay=False, path_type=Path),
              default=DEFAULT_TEMPLATE, show_default=True)  # fmt: skip
@click.option("--stack-name", default=DEFAULT_STACK, show_default=True)
@click.option("--parameter-overrides", multiple=True, metavar="KEY=VALUE",
              help="A template parameter's value; repeat for several.")  # fmt: skip
@click.pass_context
def deploy_command(
    context: click.Context, template: Path, stack_name: str, parameter_overrides: tuple[str, ...]
) -> None:
    """Create or update every resource of a SAM template in the running local cloud."""
    from infra.localcloud.deploy import DeployError, TemplateError, deploy

    endpoint = _running_endpoint(context.obj["state_dir"])
    try:
        result = deploy(
            template.resolve(),
            stack_name=stack_name,
            endpoint_url=endpoint,
            state_dir=context.obj["state_dir"],
            parameter_overrides=_parse_overrides(parameter_overrides),
        )
    except (TemplateError, DeployError, TimeoutError, ValueError) as error:
        raise click.ClickException(str(error)) from None
    counts: dict[str, int] = {}
    for change in result.changes:
        counts[change.action] = counts.get(change.action, 0) + 1
        if change.action != "unchanged":
            click.echo(f"{change.action:>9}  {change.resource_type:<40} {change.logical_id}")
    summary = ", ".join(f"{count} {action}" for action, count in sorted(counts.items()))
    click.echo(f"stack {stack_name} deployed: {summary}")


@main.command("outputs")
@click.option("--stack-name", default=DEFAULT_STACK, show_default=True)
@click.pass_context
def outputs_command(context: click.Context, stack_name: str) -> None:
    """Print the deployed stack's Outputs as JSON."""
    from infra.localcloud.deploy import load_stack

    record = load_stack(context.obj["state_dir"], stack_name)
    if record is None:
        raise click.ClickException(f"stack {stack_name} is not deployed; run `mhpe deploy`")
    click.echo(json.dumps(record.outputs, indent=2, sort_keys=True))


@main.command("invoke")
@click.argument("function")
@click.option("--event", "-e", "event_path", type=click.Path(dir_okay=False, path_type=Path),
              help="JSON event file [default: an empty event {}].")  # fmt: skip
@click.option("--env-vars", "-n", type=click.Path(dir_okay=False, path_type=Path),
              help="JSON file of variables, as `sam local invoke` takes it.")  # fmt: skip
@click.option("--template", "-t", type=click.Path(dir_okay=False, path_type=Path),
              default=DEFAULT_TEMPLATE, show_default=True)  # fmt: skip
@click.option("--stack-name", default=DEFAULT_STACK, show_default=True)
@click.option("--endpoint-url", default=None, metavar="URL",
              help="AWS endpoint for the function's clients [default: the running local "
                   "cloud; without one, the command fails].")  # fmt: skip
@click.pass_context
def invoke_command(
    context: click.Context,
    function: str,
    event_path: Path | None,
    env_vars: Path | None,
    template: Path,
    stack_name: str,
    endpoint_url: str | None,
) -> None:
    """Run one function of the template once, as `sam local invoke` does, without Docker."""
    from infra.localcloud.local_invoke import LocalInvokeError, invoke_once

    try:
        result = invoke_once(
            template.resolve(),
            function,
            event_path=event_path,
            env_vars_path=env_vars,
            state_dir=context.obj["state_dir"],
            stack_name=stack_name,
            endpoint_url=endpoint_url,
        )
    except LocalInvokeError as error:
        raise click.ClickException(str(error)) from None
    click.echo(result.log_result, err=True, nl=False)
    click.echo(result.payload.decode())
    if result.function_error:
        sys.exit(1)


def _add_plugin_commands() -> None:
    """Add the commands that installed packages register under the `mhpe.commands` group.

    The product's own commands (data, replay, api-key) come from its layer package this way,
    so the local cloud never imports the product's code.
    """
    for entry_point in entry_points(group="mhpe.commands"):
        if entry_point.name in main.commands:
            continue
        try:
            command = entry_point.load()
        except (ImportError, AttributeError) as error:
            print(f"mhpe: command {entry_point.name} unavailable: {error}", file=sys.stderr)
            continue
        main.add_command(command, entry_point.name)


_add_plugin_commands()


if __name__ == "__main__":
    main()
