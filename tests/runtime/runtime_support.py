"""Paths and settings shared by the function runtime tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from infra.localcloud.runtime import FunctionSpec

HANDLERS_DIR = Path(__file__).parent / "handlers"
LAYER_DIR = HANDLERS_DIR / "layer_python"
ACCOUNT_ARN = "arn:aws:lambda:us-east-1:123456789012:function"
BASE_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}
SpecFactory = Callable[..., FunctionSpec]
