"""Fixtures shared by the tests of template.yaml, its state machine, events and handlers."""

import copy
import json
import os
import shutil
from pathlib import Path
from typing import Any

import cfnlint.decode
import pytest
from samtranslator.translator.transform import transform

from tests.template.template_support import (
    AWS_TEST_ENVIRONMENT,
    DEFAULT_SAM_CLI,
    REPO_ROOT,
    TEMPLATE_PATH,
    is_image_function,
)

PLACEHOLDER_BUCKET = "mhpe-template-test-artifacts"
PLACEHOLDER_IMAGE_REPOSITORY = "123456789012.dkr.ecr.us-east-1.amazonaws.com/mhpe-template-test"


class _NoManagedPolicies:
    """Managed-policy loader for samtranslator that never calls IAM.

    The template names no AWS managed policy, so the table stays empty. SAM adds
    AWSLambdaBasicExecutionRole by ARN without looking it up.
    """

    def load(self) -> dict[str, str]:
        return {}


@pytest.fixture(autouse=True)
def aws_test_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in AWS_TEST_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)


@pytest.fixture(scope="session")
def template() -> dict[str, Any]:
    """template.yaml as plain dicts, with the short forms (!Ref, !Sub) in their long form."""
    decoded, errors = cfnlint.decode.decode(str(TEMPLATE_PATH))
    assert not errors, f"template.yaml does not parse: {errors}"
    return json.loads(json.dumps(decoded))


def _replace_local_artifacts(template: dict[str, Any]) -> None:
    """Point local CodeUri and ContentUri folders at placeholder S3 objects and inline definitions.

    samtranslator accepts only S3 locations for code, and it does not read a state machine's
    DefinitionUri file, so the file's content becomes Definition. An image function gets a
    placeholder ImageUri, as `sam build` sets the URI of the image it built.
    """
    for logical_id, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        resource_type = resource["Type"]
        if resource_type == "AWS::Serverless::Function" and is_image_function(resource):
            properties["ImageUri"] = f"{PLACEHOLDER_IMAGE_REPOSITORY}:{logical_id.lower()}"
        elif resource_type == "AWS::Serverless::Function":
            properties["CodeUri"] = {"Bucket": PLACEHOLDER_BUCKET, "Key": f"{logical_id}.zip"}
        elif resource_type == "AWS::Serverless::LayerVersion":
            properties["ContentUri"] = {"Bucket": PLACEHOLDER_BUCKET, "Key": f"{logical_id}.zip"}
        elif resource_type == "AWS::Serverless::StateMachine" and "DefinitionUri" in properties:
            definition_path = REPO_ROOT / properties.pop("DefinitionUri")
            properties["Definition"] = json.loads(definition_path.read_text())


@pytest.fixture(scope="session")
def translated_template(template: dict[str, Any]) -> dict[str, Any]:
    """template.yaml after the SAM transform, as CloudFormation receives it."""
    sam_template = copy.deepcopy(template)
    _replace_local_artifacts(sam_template)
    with pytest.MonkeyPatch.context() as monkeypatch:
        for name, value in AWS_TEST_ENVIRONMENT.items():
            monkeypatch.setenv(name, value)
        return transform(sam_template, {}, _NoManagedPolicies())


@pytest.fixture(scope="session")
def sam_cli() -> Path:
    """Return the SAM CLI's path: $SAM_CLI if set, else the project's .venv-sam."""
    configured = os.environ.get("SAM_CLI")
    sam_path = Path(configured) if configured else DEFAULT_SAM_CLI
    if sam_path.is_file():
        return sam_path
    found = shutil.which(str(sam_path))
    if found is None:
        pytest.skip(f"SAM CLI not found at {sam_path}: run `make setup-sam` or set SAM_CLI")
    return Path(found)
