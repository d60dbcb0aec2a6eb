"""Paths and helpers for the tests of template.yaml, its state machine, events and handlers."""

import json
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = REPO_ROOT / "template.yaml"
ASL_PATH = REPO_ROOT / "statemachines" / "training_pipeline.asl.json"
EVENTS_DIR = REPO_ROOT / "events"
DEFAULT_SAM_CLI = REPO_ROOT / ".venv-sam" / "bin" / "sam"

# Dummy credentials, so that no AWS client in a test looks for real ones or for the instance
# metadata address.
AWS_TEST_ENVIRONMENT = {
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "SAM_CLI_TELEMETRY": "0",
}

# The functions of the training pipeline, in the order the state machine runs them.
PIPELINE_FUNCTIONS = ("ValidateFunction", "TrainFunction", "EvaluateFunction", "PromoteFunction")


def function_resources(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Return the template's AWS::Serverless::Function resources by logical id."""
    return {
        logical_id: resource
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


def is_image_function(resource: dict[str, Any]) -> bool:
    """Return whether a function resource ships as a container image."""
    return resource["Properties"].get("PackageType") == "Image"


def dockerfile_path(resource: dict[str, Any]) -> Path:
    """Return the Dockerfile that `sam build` builds an image function from."""
    metadata = resource["Metadata"]
    return REPO_ROOT / metadata["DockerContext"] / metadata["Dockerfile"]


def handler_folder(resource: dict[str, Any]) -> Path:
    """Return the folder of a function's handler module and requirements.txt.

    A zip function's is its CodeUri. An image function's is functions/FUNCTION when the
    shared Dockerfile gets the build argument FUNCTION, else the Dockerfile's folder.
    """
    if not is_image_function(resource):
        return REPO_ROOT / resource["Properties"]["CodeUri"]
    build_args = resource["Metadata"].get("DockerBuildArgs", {})
    if "FUNCTION" in build_args:
        return REPO_ROOT / "functions" / build_args["FUNCTION"]
    return dockerfile_path(resource).parent


def load_event(name: str) -> dict[str, Any]:
    """Return the sample event events/NAME parsed from JSON."""
    return json.loads((EVENTS_DIR / name).read_text())


def load_definition() -> dict[str, Any]:
    """Return the training pipeline's ASL definition, placeholders not substituted."""
    return json.loads(ASL_PATH.read_text())
