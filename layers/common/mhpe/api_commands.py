"""`mhpe api-key`: print the value of the deployed stack's API key, for curl and the demo.

The `mhpe` command line adds this command through the `mhpe.commands` entry point. It reads
the key's id from the ApiKeyId output that `mhpe deploy` recorded in
STATE_DIR/stacks/STACK.json, reads the value from the running local cloud's API Gateway (or
from $AWS_ENDPOINT_URL when it is set), and prints only the value, so that
`KEY=$(mhpe api-key)` works. The value is never logged.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import boto3
import click
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

logger = logging.getLogger(__name__)

API_KEY_OUTPUT = "ApiKeyId"
DEFAULT_STACK = "mhpe"
DEFAULT_STATE_DIR = Path(".localcloud")
STATE_DIR_ENV = "MHPE_STATE_DIR"
# The running local cloud's address, written by `mhpe cloud up`.
RUNNING_CLOUD_FILE = "localcloud.json"
DEFAULT_REGION = "us-east-1"
# The local cloud accepts any credentials; these keep boto3 from looking for real ones.
LOCAL_CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}


def _state_dir(context: click.Context, option: Path | None) -> Path:
    if option is not None:
        return option.resolve()
    from_group = (context.obj or {}).get("state_dir") if isinstance(context.obj, dict) else None
    if from_group is not None:
        return Path(from_group)
    return Path(os.environ.get(STATE_DIR_ENV) or DEFAULT_STATE_DIR).resolve()


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except json.JSONDecodeError as error:
        raise click.ClickException(f"{path} is not valid JSON ({error}); redeploy the stack")


def running_cloud_endpoint(state_dir: Path) -> str:
    """Return the endpoint of the local cloud running for state_dir.

    Raises ClickException when no cloud runs there, so that no client is ever built without
    the local endpoint and sent to real AWS.
    """
    running = _read_json(state_dir / RUNNING_CLOUD_FILE) or {}
    pid = running.get("pid")
    endpoint_url = running.get("endpoint_url")
    if not isinstance(pid, int) or not endpoint_url or not _process_exists(pid):
        raise click.ClickException(
            f"the local cloud is not running for {state_dir}; start it with `mhpe cloud up`"
        )
    return str(endpoint_url)


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _endpoint_url(state_dir: Path) -> str:
    """Return AWS_ENDPOINT_URL when the user set it, else the running local cloud's endpoint."""
    if os.environ.get("AWS_ENDPOINT_URL"):
        return os.environ["AWS_ENDPOINT_URL"]
    return running_cloud_endpoint(state_dir)


def read_api_key(state_dir: Path, stack_name: str) -> str:
    """Return the value of the stack's API key; raise ClickException naming what is missing."""
    stack_file = state_dir / "stacks" / f"{stack_name}.json"
    stack = _read_json(stack_file)
    if stack is None:
        raise click.ClickException(
            f"stack {stack_name} is not deployed ({stack_file} not found); run `mhpe deploy` "
            "or pass --state-dir"
        )
    key_id = (stack.get("outputs") or {}).get(API_KEY_OUTPUT)
    if not key_id:
        raise click.ClickException(
            f"stack {stack_name} has no {API_KEY_OUTPUT} output in {stack_file}; deploy a "
            "template whose Api has Auth.ApiKeyRequired and a usage plan"
        )

    endpoint_url = _endpoint_url(state_dir)
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    credentials = {} if os.environ.get("AWS_ACCESS_KEY_ID") else LOCAL_CREDENTIALS
    client = boto3.client(
        "apigateway",
        endpoint_url=endpoint_url,
        region_name=stack.get("region") or DEFAULT_REGION,
        **credentials,
    )
    try:
        response = client.get_api_key(apiKey=key_id, includeValue=True)
    except EndpointConnectionError:
        raise click.ClickException(
            f"could not connect to the local cloud at {endpoint_url}; start it with `mhpe cloud up`"
        ) from None
    except ClientError as error:
        raise click.ClickException(
            f"API key {key_id} of stack {stack_name} could not be read from {endpoint_url}: "
            f"{error.response.get('Error', {}).get('Message', error)}"
        ) from None
    except BotoCoreError as error:
        raise click.ClickException(f"reading API key {key_id} failed: {error}") from None
    return str(response["value"])


@click.command("api-key")
@click.option("--stack-name", default=DEFAULT_STACK, show_default=True,
              help="Stack deployed with `mhpe deploy`.")  # fmt: skip
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder of the local cloud's state [default: `mhpe --state-dir`, "
                   "$MHPE_STATE_DIR or .localcloud].")  # fmt: skip
@click.pass_context
def api_key(context: click.Context, stack_name: str, state_dir: Path | None) -> None:
    """Print the value of the stack's API key (its ApiKeyId output), and nothing else.

    The key is read from the running local cloud, or from $AWS_ENDPOINT_URL when it is set.
    """
    click.echo(read_api_key(_state_dir(context, state_dir), stack_name))
