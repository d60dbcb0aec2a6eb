"""Naming, output URLs, zips, managed policies and local functions: no cloud needed."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from infra.localcloud.deploy import local_functions, local_invoke_url
from infra.localcloud.deploy.artifacts import LocalArtifact, build_zip
from infra.localcloud.deploy.managed_policies import BUILT_IN_POLICY_PATHS, managed_policy_arns
from infra.localcloud.deploy.naming import physical_name
from tests.deploy.conftest import FIXTURES

ENDPOINT = "http://127.0.0.1:4566"


def test_physical_name_is_stable_and_s3_valid() -> None:
    name = physical_name("mhpe", "RawBucket")
    assert name == physical_name("mhpe", "RawBucket")
    assert name != physical_name("other", "RawBucket")
    assert name.startswith("mhpe-rawbucket-")
    assert len(name) == len("mhpe-rawbucket-") + 8


def test_physical_name_truncates_long_ids() -> None:
    name = physical_name("a-very-long-stack-name", "AnExtremelyLongLogicalIdForAFunction" * 3)
    assert len(name) <= 63
    assert name == name.lower()
    assert not name.startswith("-")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://abc123.execute-api.us-east-1.amazonaws.com/dev/",
            f"{ENDPOINT}/restapis/abc123/dev/_user_request_/",
        ),
        (
            "https://abc123.execute-api.eu-west-1.amazonaws.com/prod/predict?x=1",
            f"{ENDPOINT}/restapis/abc123/prod/_user_request_/predict?x=1",
        ),
        (
            "https://abc123.execute-api.us-east-1.amazonaws.com/dev",
            f"{ENDPOINT}/restapis/abc123/dev/_user_request_/",
        ),
        ("arn:aws:s3:::bucket", "arn:aws:s3:::bucket"),
    ],
)
def test_local_invoke_url(url: str, expected: str) -> None:
    assert local_invoke_url(url, ENDPOINT + "/") == expected


def test_zip_is_reproducible_without_bytecode(tmp_path: Path) -> None:
    (tmp_path / "pkg" / "__pycache__").mkdir(parents=True)
    (tmp_path / "pkg" / "__init__.py").write_text("X = 1\n")
    (tmp_path / "pkg" / "__pycache__" / "x.pyc").write_bytes(b"\0")
    (tmp_path / "app.py").write_text("def handler(e, c):\n    return 1\n")

    first = build_zip(LocalArtifact(tmp_path, "python/"))
    second = build_zip(LocalArtifact(tmp_path, "python/"))
    names = zipfile.ZipFile(io.BytesIO(first.content)).namelist()

    assert first == second
    assert names == ["python/app.py", "python/pkg/__init__.py"]


def test_managed_policy_table_matches_moto() -> None:
    arns = managed_policy_arns()
    for name, path in BUILT_IN_POLICY_PATHS.items():
        assert arns[name] == f"arn:aws:iam::aws:policy{path}{name}"


def test_local_functions_without_stack() -> None:
    functions = local_functions(FIXTURES / "app" / "template.yaml")
    hello = functions["HelloFunction"]
    worker = functions["WorkerFunction"]

    assert sorted(functions) == ["HelloFunction", "WorkerFunction"]
    assert hello.function_name == "HelloFunction"
    assert hello.code_dir == (FIXTURES / "app" / "functions" / "hello").resolve()
    assert hello.code_dir.is_absolute()
    assert hello.layer_dirs == ((FIXTURES / "app" / "layers" / "common").resolve(),)
    assert hello.handler == "app.lambda_handler"
    assert hello.runtime == "python3.12"
    assert hello.timeout_s == 30
    assert hello.memory_mb == 256
    assert hello.reserved_concurrency == 2
    assert worker.timeout_s == 60
    assert hello.environment == {
        "RAW_BUCKET": "RawBucket",
        "LOG_LEVEL": "DEBUG",
        "GREETING_SOURCE": "local-dev",
        "BUCKET_ARN": "arn:aws:s3:::RawBucket",
    }


def test_local_functions_parameter_overrides() -> None:
    functions = local_functions(FIXTURES / "app" / "template.yaml", {"Stage": "prod"})
    environment = functions["HelloFunction"].environment
    assert environment["LOG_LEVEL"] == "INFO"
    assert environment["PROD_ONLY"] == "yes"
