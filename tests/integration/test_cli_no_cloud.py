"""Commands that talk to the local cloud fail clearly when it is not running.

Every command runs with HTTPS_PROXY and HTTP_PROXY aimed at a closed port of 127.0.0.1, so
that a client built without the local endpoint fails at once instead of leaving the machine.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.integration.conftest import FIXTURES, STACK, Cloud, free_port, run_mhpe

pytestmark = pytest.mark.integration

NOT_RUNNING = "the local cloud is not running"


@pytest.fixture(autouse=True)
def _no_way_out(monkeypatch: pytest.MonkeyPatch) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("HTTPS_PROXY", closed)
    monkeypatch.setenv("HTTP_PROXY", closed)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


@pytest.fixture
def stopped_state_dir(cloud: Cloud, tmp_path: Path) -> Path:
    """A state folder with the session cloud's stack record and a stale running-cloud file.

    The stale file names a pid that no longer exists, as after `kill -9` of the cloud.
    """
    shutil.copytree(cloud.state_dir / "stacks", tmp_path / "stacks")
    record = json.loads((tmp_path / "stacks" / f"{STACK}.json").read_text())
    record["outputs"]["ApiKeyId"] = "abcdefghij"
    record["outputs"]["ApiUrl"] = f"{cloud.endpoint_url}/restapis/abcdefghij/prod/_user_request_"
    (tmp_path / "stacks" / f"{STACK}.json").write_text(json.dumps(record))
    stale = {"pid": 2**22 + 1, "endpoint_url": cloud.endpoint_url}
    (tmp_path / "localcloud.json").write_text(json.dumps(stale))
    return tmp_path


def test_invoke_without_cloud_fails(tmp_path: Path) -> None:
    result = run_mhpe(
        tmp_path, "invoke", "EchoFunction", "--template", str(FIXTURES / "template.yaml"),
        check=False,
    )  # fmt: skip

    assert result.returncode == 1
    assert NOT_RUNNING in result.stderr
    assert "mhpe cloud up" in result.stderr
    assert "START RequestId" not in result.stderr


def test_invoke_with_explicit_endpoint_runs(cloud: Cloud, tmp_path: Path) -> None:
    result = run_mhpe(
        tmp_path, "invoke", "EchoFunction", "--template", str(FIXTURES / "template.yaml"),
        "--endpoint-url", cloud.endpoint_url,
    )  # fmt: skip

    assert json.loads(result.stdout)["greeting"]


@pytest.mark.parametrize(
    "arguments",
    [
        ("api-key", "--stack-name", STACK),
        ("replay", "ames", "--count", "1", "--stack-name", STACK),
        ("deploy", "--template", str(FIXTURES / "template.yaml"), "--stack-name", STACK),
        ("cloud", "fire", "any-rule"),
    ],
    ids=["api-key", "replay", "deploy", "fire"],
)
def test_command_without_cloud_fails(stopped_state_dir: Path, arguments: tuple[str, ...]) -> None:
    result = run_mhpe(stopped_state_dir, *arguments, check=False)

    assert result.returncode == 1
    assert "not running" in result.stderr
    assert "mhpe cloud up" in result.stderr
    assert "Traceback" not in result.stderr


def test_cloud_logs_unknown_function_lists_deployed(cloud: Cloud) -> None:
    result = cloud.mhpe("cloud", "logs", "NoSuchFunction", "--stack-name", STACK, check=False)

    assert result.returncode == 1
    assert "function NoSuchFunction does not exist in stack itest" in result.stderr
    assert f"EchoFunction ({cloud.function_name('EchoFunction')})" in result.stderr


def test_cloud_logs_accepts_physical_name(cloud: Cloud) -> None:
    name = cloud.function_name("EchoFunction")
    cloud.client("lambda").invoke(FunctionName=name, Payload=b"{}")

    result = cloud.mhpe("cloud", "logs", name, "--stack-name", STACK)

    assert "START RequestId:" in result.stdout
