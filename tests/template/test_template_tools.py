"""cfn-lint, `sam validate --lint` and `sam build` run on template.yaml as they would in CI."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.template.template_support import (
    AWS_TEST_ENVIRONMENT,
    PIPELINE_FUNCTIONS,
    REPO_ROOT,
    TEMPLATE_PATH,
    dockerfile_path,
    function_resources,
    is_image_function,
    load_definition,
)

SAM_BUILD_TIMEOUT_S = 600
LINT_TIMEOUT_S = 120
# Lambda's limit on the unzipped size of a zip function with all its layers.
MAX_UNZIPPED_BYTES = 262_144_000


def _cfn_lint_command() -> list[str]:
    """Return the cfn-lint console script of the interpreter that runs the tests."""
    beside_python = Path(sys.executable).parent / "cfn-lint"
    if beside_python.is_file():
        return [str(beside_python)]
    found = shutil.which("cfn-lint")
    assert found is not None, "cfn-lint is not installed: run `make setup`"
    return [found]


def _tool_environment(sam_cli: Path | None = None) -> dict[str, str]:
    """Return the environment for a tool subprocess, with the SAM CLI's folder first on PATH.

    `sam build` needs python3.12 on PATH for the python3.12 runtime, and .venv-sam/bin has it.
    """
    environment = {**os.environ, **AWS_TEST_ENVIRONMENT}
    if sam_cli is not None:
        environment["PATH"] = f"{sam_cli.parent}{os.pathsep}{environment.get('PATH', '')}"
    return environment


def _folder_bytes(folder: Path) -> int:
    """Return the size of the files under folder, as Lambda counts the unzipped package."""
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def _run(command: list[str], timeout_s: float, environment: dict[str, str]) -> str:
    """Run a command in the repository and return its output, failing the test on exit != 0."""
    completed = subprocess.run(
        command,
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, (
        f"{' '.join(command)} exited {completed.returncode}:\n{output}"
    )
    return output


def test_cfn_lint_reports_nothing() -> None:
    command = [*_cfn_lint_command(), "--include-checks", "I", "--", str(TEMPLATE_PATH)]
    output = _run(command, LINT_TIMEOUT_S, _tool_environment())

    assert output.strip() == "", f"cfn-lint reported:\n{output}"


def test_cfn_lint_accepts_state_machine_definition(tmp_path: Path) -> None:
    # cfn-lint checks an ASL definition against its schema only when the definition is inline,
    # so the file is inlined into a minimal template.
    substitutions = {
        f"{name}Arn": f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
        for name in PIPELINE_FUNCTIONS
    }
    lint_template: dict[str, Any] = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": {"RoleArn": {"Type": "String"}},
        "Resources": {
            "TrainingPipeline": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {
                    "RoleArn": {"Ref": "RoleArn"},
                    "Definition": load_definition(),
                    "DefinitionSubstitutions": substitutions,
                },
            }
        },
    }
    lint_path = tmp_path / "state_machine.json"
    lint_path.write_text(json.dumps(lint_template, indent=2))

    command = [*_cfn_lint_command(), "--include-checks", "I", "--", str(lint_path)]
    output = _run(command, LINT_TIMEOUT_S, _tool_environment())

    assert output.strip() == "", f"cfn-lint reported on the ASL definition:\n{output}"


def test_sam_validate_lint_passes(sam_cli: Path) -> None:
    command = [str(sam_cli), "validate", "--lint", "--template", str(TEMPLATE_PATH)]
    output = _run(command, LINT_TIMEOUT_S, _tool_environment(sam_cli))

    assert "is a valid SAM Template" in output
    assert "warning" not in output.lower(), output


@pytest.mark.timeout(SAM_BUILD_TIMEOUT_S + 60)
def test_sam_build_builds_zip_functions_and_layer(
    sam_cli: Path, tmp_path: Path, template: dict[str, Any]
) -> None:
    functions = function_resources(template)
    image_functions = [name for name, resource in functions.items() if is_image_function(resource)]
    zip_functions = [name for name in functions if name not in image_functions]
    repo_build_dir = REPO_ROOT / ".aws-sam"
    repo_build_dir_existed = repo_build_dir.exists()
    build_dir = tmp_path / "build"
    # `sam build` builds images with Docker, which this machine may not have, so the image
    # functions are excluded; their Dockerfiles are checked below.
    excluded = [argument for name in image_functions for argument in ("--exclude", name)]
    command = [
        str(sam_cli), "build",
        "--template", str(TEMPLATE_PATH),
        "--build-dir", str(build_dir),
        "--cache-dir", str(tmp_path / "cache"),
        # samconfig.toml turns cached builds on, and those keep dependencies in .aws-sam/deps.
        "--no-cached",
        *excluded,
    ]  # fmt: skip

    output = _run(command, SAM_BUILD_TIMEOUT_S, _tool_environment(sam_cli))

    assert "Build Succeeded" in output
    assert image_functions, "template.yaml declares no image function"
    for logical_id in image_functions:
        dockerfile = dockerfile_path(functions[logical_id])
        assert dockerfile.is_file(), f"{logical_id}: Dockerfile {dockerfile} missing"
        assert not (build_dir / logical_id).exists(), f"{logical_id} was built despite --exclude"
    for logical_id in zip_functions:
        function_dir = build_dir / logical_id
        assert (function_dir / "app.py").is_file(), (
            f"{logical_id}: app.py missing in {function_dir}"
        )
        assert (function_dir / "aws_lambda_powertools").is_dir(), (
            f"{logical_id}: requirements.txt was not installed into {function_dir}"
        )
    layer_package = build_dir / "SharedLayer" / "python" / "mhpe" / "__init__.py"
    assert layer_package.is_file(), f"the layer was not built as python/mhpe: {layer_package}"
    layer_bytes = _folder_bytes(build_dir / "SharedLayer")
    for logical_id in zip_functions:
        unzipped_bytes = _folder_bytes(build_dir / logical_id) + layer_bytes
        assert unzipped_bytes <= MAX_UNZIPPED_BYTES, (
            f"{logical_id}: {unzipped_bytes:,} bytes with the shared layer, over Lambda's "
            f"{MAX_UNZIPPED_BYTES:,}-byte limit for zip functions; ship it as an image"
        )
    assert (build_dir / "template.yaml").is_file()
    if not repo_build_dir_existed:
        assert not repo_build_dir.exists(), "sam build wrote .aws-sam into the repository"
