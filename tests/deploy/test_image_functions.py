"""Container image functions: deployed with a placeholder image URI, run from their source."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.awslambda.utils import get_backend

from infra.localcloud.deploy import DeployResult, TemplateError, deploy, load_stack, local_functions
from infra.localcloud.deploy.images import PLACEHOLDER_REGISTRY, load_image_source
from infra.localcloud.functions import FunctionCodeCache
from tests.deploy.conftest import FIXTURES, REGION

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

REPOSITORY = Path(__file__).resolve().parents[2]
ACCOUNT_ID = "123456789012"
STACK = "images"
CLOUD_START_TIMEOUT_S = 120


@dataclass
class ImageStack:
    result: DeployResult
    root: Path  # the fixture's copy
    template: Path
    state_dir: Path

    def physical_id(self, logical_id: str) -> str:
        return next(c.physical_id for c in self.result.changes if c.logical_id == logical_id)


def copy_images_fixture(target: Path) -> Path:
    """Copy the images fixture under target and return its template's path."""
    shutil.copytree(FIXTURES / "images", target / "images")
    return target / "images" / "template.yaml"


def deploy_images(endpoint_url: str, root: Path, stack_name: str = STACK) -> ImageStack:
    template = copy_images_fixture(root)
    state_dir = root / "state"
    result = deploy(template, stack_name=stack_name, endpoint_url=endpoint_url, state_dir=state_dir)
    return ImageStack(result, template.parent, template, state_dir)


@pytest.fixture(scope="module")
def images(endpoint_url: str, tmp_path_factory: pytest.TempPathFactory) -> ImageStack:
    """The images fixture, deployed once to moto for the read-only checks."""
    return deploy_images(endpoint_url, tmp_path_factory.mktemp("images"))


def test_image_function_gets_placeholder_uri(images: ImageStack, aws: Callable[[str], Any]) -> None:
    function = aws("lambda").get_function(FunctionName=images.physical_id("GreeterFunction"))
    configuration = function["Configuration"]

    assert function["Code"]["ImageUri"].startswith(f"{PLACEHOLDER_REGISTRY}/greeterfunction:")
    assert configuration["PackageType"] == "Image"
    assert configuration["ImageConfigResponse"]["ImageConfig"]["Command"] == ["app.lambda_handler"]
    assert configuration["Layers"] == []
    assert configuration["Environment"]["Variables"] == {"STAGE": "test"}


def test_image_source_recorded_in_state_dir(images: ImageStack, aws: Callable[[str], Any]) -> None:
    image_uri = aws("lambda").get_function(FunctionName=images.physical_id("GreeterFunction"))[
        "Code"
    ]["ImageUri"]

    source = load_image_source(images.state_dir, image_uri)

    assert source is not None
    assert source.code_dir == images.root / "functions" / "greeter"
    # config/ contains no Python code, so only the layer's folder joins the handler's.
    assert source.import_dirs == (images.root / "layers" / "common",)
    assert source.handler == "app.lambda_handler"
    assert source.runtime == "python3.12"


def test_shared_dockerfile_build_argument_and_cmd(images: ImageStack) -> None:
    functions = local_functions(images.template, stack=load_stack(images.state_dir, STACK))
    worker = functions["WorkerFunction"]

    assert worker.function_name == images.physical_id("WorkerFunction")
    assert worker.code_dir == images.root / "functions" / "worker"
    assert worker.handler == "app.handle"
    assert worker.layer_dirs == (images.root / "layers" / "common",)


def test_zip_and_image_functions_share_layer_folder(images: ImageStack) -> None:
    functions = local_functions(images.template)

    assert functions["ZipGreeterFunction"].layer_dirs == functions["GreeterFunction"].layer_dirs
    assert functions["ZipGreeterFunction"].code_dir == functions["GreeterFunction"].code_dir


def test_redeploy_leaves_images_unchanged(images: ImageStack, endpoint_url: str) -> None:
    again = deploy(
        images.template, stack_name=STACK, endpoint_url=endpoint_url, state_dir=images.state_dir
    )

    assert [c.logical_id for c in again.changes if c.action != "unchanged"] == []


def test_runtime_spec_runs_image_from_source(images: ImageStack) -> None:
    name = images.physical_id("GreeterFunction")
    function = get_backend(ACCOUNT_ID, REGION).get_function(name)

    spec = FunctionCodeCache(images.state_dir).spec_for(function)

    assert spec.code_dir == images.root / "functions" / "greeter"
    assert spec.layer_dirs == (images.root / "layers" / "common",)
    assert spec.handler == "app.lambda_handler"
    assert spec.runtime == "python3.12"
    assert spec.environment["STAGE"] == "test"
    assert spec.environment["PYTHONDONTWRITEBYTECODE"] == "1"


def test_runtime_rejects_image_without_recorded_source(images: ImageStack, tmp_path: Path) -> None:
    name = images.physical_id("GreeterFunction")
    function = get_backend(ACCOUNT_ID, REGION).get_function(name)

    with pytest.raises(LookupError, match="has no recorded source folders"):
        FunctionCodeCache(tmp_path).spec_for(function)


def test_handler_edit_gives_new_image(
    endpoint_url: str, tmp_path: Path, aws: Callable[[str], Any]
) -> None:
    stack = deploy_images(endpoint_url, tmp_path, stack_name="images-edit")
    client = aws("lambda")
    greeter = stack.physical_id("GreeterFunction")
    before = client.get_function(FunctionName=greeter)["Code"]["ImageUri"]
    handler_file = stack.root / "functions" / "greeter" / "app.py"
    handler_file.write_text(handler_file.read_text() + "\n# edited\n")

    again = deploy(
        stack.template,
        stack_name="images-edit",
        endpoint_url=endpoint_url,
        state_dir=stack.state_dir,
    )

    actions = {change.logical_id: change.action for change in again.changes}
    after = client.get_function(FunctionName=greeter)["Code"]["ImageUri"]
    assert actions["GreeterFunction"] == "updated"
    assert actions["WorkerFunction"] == "unchanged"
    assert after != before
    assert load_image_source(stack.state_dir, after) is not None


def test_zip_function_becomes_image(
    endpoint_url: str, tmp_path: Path, aws: Callable[[str], Any]
) -> None:
    template = copy_images_fixture(tmp_path)
    original = template.read_text()
    as_zip = original.replace(
        """      PackageType: Image
      ImageConfig:
        Command: ["app.lambda_handler"]
""",
        """      PackageType: Zip
      CodeUri: functions/greeter/
      Runtime: python3.12
      Handler: app.lambda_handler
""",
    )
    assert as_zip != original
    template.write_text(as_zip)
    state_dir = tmp_path / "state"
    first = deploy(template, stack_name="switch", endpoint_url=endpoint_url, state_dir=state_dir)
    name = next(c.physical_id for c in first.changes if c.logical_id == "GreeterFunction")
    arn = aws("lambda").get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    template.write_text(original)

    second = deploy(template, stack_name="switch", endpoint_url=endpoint_url, state_dir=state_dir)

    configuration = aws("lambda").get_function(FunctionName=name)["Configuration"]
    actions = {change.logical_id: change.action for change in second.changes}
    assert actions["GreeterFunction"] == "updated"
    assert configuration["PackageType"] == "Image"
    assert configuration["FunctionArn"] == arn


# Edits (file, old text, new text) of the fixture, and the resource, property and reason of
# the TemplateError they cause.
BROKEN_IMAGES = [
    pytest.param(
        [
            (
                "template.yaml",
                "    Metadata:\n      Dockerfile: functions/greeter/Dockerfile\n",
                "    Metadata:\n",
            ),
            (
                "template.yaml",
                "      DockerContext: .\n      DockerTag: v1\n\n  # An image of",
                "\n  # An image of",
            ),
            (
                "template.yaml",
                "      PackageType: Image\n      ImageConfig:",
                (
                    "      PackageType: Image\n      ImageUri: example.invalid/greeter:v1\n"
                    "      ImageConfig:"
                ),
            ),
        ],
        "GreeterFunction",
        "Metadata",
        "needs Metadata Dockerfile and DockerContext",
        id="image-uri-without-metadata",
    ),
    pytest.param(
        [("functions/greeter/Dockerfile", "COPY config", "COPY settings")],
        "GreeterFunction",
        "Metadata.Dockerfile",
        "line 10: source settings not found in the build context",
        id="missing-copy-source",
    ),
    pytest.param(
        [("functions/greeter/Dockerfile", "functions/greeter/app.py", "config")],
        "GreeterFunction",
        "ImageConfig.Command",
        "copies no app.py into /var/task",
        id="handler-not-copied",
    ),
    pytest.param(
        [("functions/greeter/Dockerfile", "${LAMBDA_TASK_ROOT}/greeting", "/var/task/hello")],
        "GreeterFunction",
        "Metadata.Dockerfile",
        "under another name",
        id="package-renamed",
    ),
    pytest.param(
        [("functions/Dockerfile", 'CMD ["app.handle"]', "CMD app.handle")],
        "WorkerFunction",
        "ImageConfig.Command",
        "no CMD in exec form",
        id="no-handler-named",
    ),
    pytest.param(
        [("template.yaml", "Dockerfile: functions/Dockerfile", "Dockerfile: functions/Nope")],
        "WorkerFunction",
        "Metadata.Dockerfile",
        "file functions/Nope does not exist in the build context",
        id="missing-dockerfile",
    ),
]


@pytest.mark.parametrize(("edits", "resource", "property_name", "reason"), BROKEN_IMAGES)
def test_broken_image_raises_template_error(
    edits: list[tuple[str, str, str]],
    resource: str,
    property_name: str,
    reason: str,
    endpoint_url: str,
    tmp_path: Path,
) -> None:
    template = copy_images_fixture(tmp_path)
    for relative_path, old, new in edits:
        path = template.parent / relative_path
        text = path.read_text()
        assert old in text, f"{old!r} not in {relative_path}"
        path.write_text(text.replace(old, new, 1))

    with pytest.raises(TemplateError) as caught:
        deploy(template, stack_name="broken", endpoint_url=endpoint_url, state_dir=tmp_path)

    error = caught.value
    assert error.resource == resource
    assert error.property_name == property_name
    assert reason in error.reason
    assert load_stack(tmp_path, "broken") is None


def test_registry_image_raises_template_error(endpoint_url: str, tmp_path: Path) -> None:
    template = tmp_path / "template.yaml"
    template.write_text(
        """\
Resources:
  RegistryFunction:
    Type: AWS::Lambda::Function
    Properties:
      PackageType: Image
      Code:
        ImageUri: 123456789012.dkr.ecr.us-east-1.amazonaws.com/pricing:v1
      Role: arn:aws:iam::123456789012:role/pricing
"""
    )

    with pytest.raises(TemplateError) as caught:
        deploy(template, stack_name="registry", endpoint_url=endpoint_url, state_dir=tmp_path)

    assert caught.value.resource == "RegistryFunction"
    assert caught.value.property_name == "Code"
    assert "needs Metadata Dockerfile and DockerContext" in caught.value.reason
    assert "pricing:v1" in caught.value.reason


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_mhpe(state_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "infra.cli", "--state-dir", str(state_dir), *args]
    environment = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    return subprocess.run(
        command,
        cwd=REPOSITORY,
        env=environment,
        capture_output=True,
        text=True,
        timeout=CLOUD_START_TIMEOUT_S,
        check=False,
    )


@dataclass
class CloudStack:
    stack: ImageStack
    endpoint_url: str

    def invoke(self, logical_id: str, event: dict[str, Any]) -> dict[str, Any]:
        client = boto3.client("lambda", endpoint_url=self.endpoint_url, region_name=REGION)
        response = client.invoke(
            FunctionName=self.stack.physical_id(logical_id), Payload=json.dumps(event).encode()
        )
        payload = json.loads(response["Payload"].read())
        assert "FunctionError" not in response, f"{logical_id} failed: {payload}"
        return payload


@pytest.fixture(scope="module")
def cloud_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CloudStack]:
    """A local cloud without MLflow, with the images fixture deployed to it."""
    root = tmp_path_factory.mktemp("cloud-images")
    state_dir = root / "state"
    port = free_port()
    started = run_mhpe(
        state_dir, "cloud", "up", "--port", str(port), "--no-mlflow", "--no-redeploy"
    )
    assert started.returncode == 0, f"mhpe cloud up failed:\n{started.stderr}"
    endpoint_url = f"http://127.0.0.1:{port}"
    try:
        template = copy_images_fixture(root)
        result = deploy(template, stack_name=STACK, endpoint_url=endpoint_url, state_dir=state_dir)
        yield CloudStack(ImageStack(result, template.parent, template, state_dir), endpoint_url)
    finally:
        run_mhpe(state_dir, "cloud", "down")


def test_local_cloud_invokes_image_from_source(cloud_stack: CloudStack) -> None:
    root = cloud_stack.stack.root

    payload = cloud_stack.invoke("GreeterFunction", {"house": 1})

    assert payload["greeting"] == "hello from the layer"
    assert payload["handler_file"] == str(root / "functions" / "greeter" / "app.py")
    assert payload["greeting_file"] == str(root / "layers" / "common" / "greeting" / "__init__.py")
    assert payload["task_root"] == str(root / "functions" / "greeter")
    assert payload["stage"] == "test"
    assert payload["event"] == {"house": 1}


def test_local_cloud_invokes_shared_dockerfile_image(cloud_stack: CloudStack) -> None:
    root = cloud_stack.stack.root

    payload = cloud_stack.invoke("WorkerFunction", {"batch": "2008-06"})

    assert payload["handler_file"] == str(root / "functions" / "worker" / "app.py")
    assert payload["greeting"] == "hello from the layer"
    assert payload["event"] == {"batch": "2008-06"}


def test_image_invocation_writes_no_bytecode(cloud_stack: CloudStack) -> None:
    cloud_stack.invoke("GreeterFunction", {})
    cloud_stack.invoke("WorkerFunction", {})

    pycache = sorted(cloud_stack.stack.root.rglob("__pycache__"))
    assert pycache == [], f"image functions wrote bytecode into their source: {pycache}"
