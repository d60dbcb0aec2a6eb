"""DVC workspaces copied from the repository, and a local cloud whose S3 is their remote.

Each workspace is a folder outside git (core.no_scm) holding the repository's DVC files and
the stages' dependencies, so that tests may delete data and caches freely.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[2]
DVC_EXECUTABLE = Path(os.environ.get("MHPE_DVC", REPOSITORY / ".venv-dvc" / "bin" / "dvc"))
VENV_BIN = Path(sys.executable).parent
REMOTE = "localcloud"

# What DVC reads in the repository: its configuration, the pipeline, the batches' .dvc file,
# and the stages' dependencies besides data/batches.
WORKSPACE_FILES = (".dvc/config", ".dvc/.gitignore", ".dvcignore", "dvc.yaml", "data/batches.dvc")
OPTIONAL_WORKSPACE_FILES = ("dvc.lock",)
WORKSPACE_FOLDERS = ("config", "layers/common/mhpe")

CLIENT_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "DVC_NO_ANALYTICS": "1",
}
COMMAND_TIMEOUT_S = 300


@pytest.fixture(autouse=True)
def require_dvc() -> None:
    if not DVC_EXECUTABLE.is_file():
        pytest.skip(f"DVC is not installed at {DVC_EXECUTABLE}; run `make setup-dvc`")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run(
    command: list[str], cwd: Path, timeout_s: float = COMMAND_TIMEOUT_S
) -> subprocess.CompletedProcess[str]:
    """Run a command with the local cloud's credentials and .venv/bin first on PATH."""
    environment = {
        **os.environ,
        **CLIENT_ENVIRONMENT,
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "MHPE_CONFIG_DIR": str(cwd / "config"),
    }
    return subprocess.run(
        command,
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout_s,
    )


def check(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    """Fail with the command's output when it exited with an error."""
    if result.returncode != 0:
        raise AssertionError(
            f"{' '.join(result.args)} exited with {result.returncode}:\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
    return result


def file_md5s(folder: Path) -> dict[str, str]:
    """Map every file name in `folder` to the md5 of its bytes."""
    return {
        path.name: hashlib.md5(path.read_bytes()).hexdigest()
        for path in sorted(folder.iterdir())
        if path.is_file()
    }


@dataclass
class Workspace:
    root: Path

    @property
    def batches(self) -> Path:
        return self.root / "data" / "batches"

    @property
    def cache(self) -> Path:
        return self.root / ".dvc" / "cache"

    def dvc(self, *args: str, timeout_s: float = COMMAND_TIMEOUT_S):
        return run([str(DVC_EXECUTABLE), *args], self.root, timeout_s)

    def mhpe(self, *args: str, timeout_s: float = COMMAND_TIMEOUT_S):
        return run([str(VENV_BIN / "mhpe"), *args], self.root, timeout_s)

    def fetch(self) -> None:
        check(self.mhpe("data", "fetch"))

    def status(self, *targets: str) -> dict[str, object]:
        return json.loads(check(self.dvc("status", "--json", *targets)).stdout)

    def use_remote(self, endpoint_url: str, bucket: str) -> None:
        """Aim the default remote at `bucket` on `endpoint_url`, in .dvc/config.local."""
        check(self.dvc("remote", "modify", "--local", REMOTE, "endpointurl", endpoint_url))
        check(self.dvc("remote", "modify", "--local", REMOTE, "url", f"s3://{bucket}/cache"))


def copy_workspace(destination: Path) -> Workspace:
    """Copy the repository's DVC files and stage dependencies into `destination`."""
    for name in WORKSPACE_FILES:
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPOSITORY / name, target)
    for name in OPTIONAL_WORKSPACE_FILES:
        if (REPOSITORY / name).is_file():
            shutil.copyfile(REPOSITORY / name, destination / name)
    for name in WORKSPACE_FOLDERS:
        shutil.copytree(
            REPOSITORY / name,
            destination / name,
            ignore=shutil.ignore_patterns("__pycache__"),
        )

    workspace = Workspace(destination)
    check(workspace.dvc("config", "--local", "core.no_scm", "true"))
    return workspace


@pytest.fixture
def make_workspace(tmp_path: Path) -> Callable[[str], Workspace]:
    def make(name: str) -> Workspace:
        return copy_workspace(tmp_path / name)

    return make


@dataclass
class Cloud:
    state_dir: Path
    port: int

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def run_cloud_command(state_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "infra.cli", "--state-dir", str(state_dir), "cloud", *args]
    return run(command, REPOSITORY)


@pytest.fixture(scope="session")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    """A local cloud without MLflow on a free port: the S3 that DVC pushes to."""
    if not DVC_EXECUTABLE.is_file():
        pytest.skip(f"DVC is not installed at {DVC_EXECUTABLE}; run `make setup-dvc`")
    state_dir = tmp_path_factory.mktemp("localcloud")
    port = free_port()
    check(run_cloud_command(state_dir, "up", "--port", str(port), "--no-mlflow"))
    try:
        yield Cloud(state_dir, port)
    finally:
        run_cloud_command(state_dir, "down")
