"""Deploy fixture SAM templates to a real moto server and check every resource through boto3."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from infra.localcloud.deploy import (
    DeployError,
    DeployResult,
    TemplateError,
    deploy,
    list_stacks,
    load_stack,
    local_functions,
)
from infra.localcloud.deploy.artifacts import LocalArtifact, build_zip
from tests.deploy.conftest import FIXTURES

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

PRODUCT_TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


@dataclass
class Deployment:
    result: DeployResult
    template: Path
    state_dir: Path
    stack_name: str

    def physical_id(self, logical_id: str) -> str:
        return next(c.physical_id for c in self.result.changes if c.logical_id == logical_id)

    def logical_ids_of(self, resource_type: str) -> list[str]:
        return [c.logical_id for c in self.result.changes if c.resource_type == resource_type]


def copy_fixture(name: str, target: Path) -> Path:
    shutil.copytree(FIXTURES / name, target / name)
    return target / name / "template.yaml"


@pytest.fixture(scope="module")
def app(endpoint_url: str, tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    """The app fixture, deployed once as stack "app" for the read-only checks."""
    root = tmp_path_factory.mktemp("app")
    template = copy_fixture("app", root)
    state_dir = root / "state"
    result = deploy(template, stack_name="app", endpoint_url=endpoint_url, state_dir=state_dir)
    return Deployment(result, template, state_dir, "app")


def test_first_deploy_creates_every_resource(app: Deployment) -> None:
    actions = {change.logical_id: change.action for change in app.result.changes}
    assert set(actions.values()) == {"created"}
    for logical_id in ("RawBucket", "HelloFunction", "WorkerFunction", "Pipeline", "Api"):
        assert logical_id in actions


def test_bucket_versioning_and_access(app: Deployment, aws: Callable[[str], Any]) -> None:
    bucket = app.result.outputs["RawBucketName"]
    s3 = aws("s3")
    assert bucket.startswith("app-rawbucket-")
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert block == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == [
        {"Key": "purpose", "Value": "raw-batches"}
    ]


def test_bucket_notification_filters(app: Deployment, aws: Callable[[str], Any]) -> None:
    bucket = app.result.outputs["RawBucketName"]
    function_arn = aws("lambda").get_function(FunctionName=app.physical_id("HelloFunction"))[
        "Configuration"
    ]["FunctionArn"]

    configuration = aws("s3").get_bucket_notification_configuration(Bucket=bucket)
    (entry,) = configuration["LambdaFunctionConfigurations"]
    assert entry["LambdaFunctionArn"] == function_arn
    assert entry["Events"] == ["s3:ObjectCreated:*"]
    rules = {rule["Name"].lower(): rule["Value"] for rule in entry["Filter"]["Key"]["FilterRules"]}
    assert rules == {"prefix": "batches/", "suffix": ".csv"}


def test_function_configuration(app: Deployment, aws: Callable[[str], Any]) -> None:
    client = aws("lambda")
    name = app.physical_id("HelloFunction")
    configuration = client.get_function(FunctionName=name)["Configuration"]
    layer_arn = app.physical_id(app.logical_ids_of("AWS::Lambda::LayerVersion")[0])

    assert name.startswith("app-hellofunction-")
    assert configuration["Handler"] == "app.lambda_handler"
    assert configuration["Runtime"] == "python3.12"
    assert configuration["Timeout"] == 30
    assert configuration["MemorySize"] == 256
    assert [layer["Arn"] for layer in configuration["Layers"]] == [layer_arn]
    assert configuration["Environment"]["Variables"] == {
        "RAW_BUCKET": app.result.outputs["RawBucketName"],
        "LOG_LEVEL": "DEBUG",
        "GREETING_SOURCE": "app-dev",
        "BUCKET_ARN": f"arn:aws:s3:::{app.result.outputs['RawBucketName']}",
    }
    concurrency = client.get_function_concurrency(FunctionName=name)
    assert concurrency["ReservedConcurrentExecutions"] == 2
    worker = client.get_function(FunctionName=app.physical_id("WorkerFunction"))
    assert worker["Configuration"]["Timeout"] == 60
    invoke_config = client.get_function_event_invoke_config(
        FunctionName=app.physical_id("WorkerFunction"), Qualifier="$LATEST"
    )
    assert invoke_config["MaximumRetryAttempts"] == 1
    assert invoke_config["MaximumEventAgeInSeconds"] == 300


def test_function_code_is_the_folder(app: Deployment, aws: Callable[[str], Any]) -> None:
    folder = app.template.parent / "functions" / "hello"
    (folder / "__pycache__").mkdir(exist_ok=True)
    (folder / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"bytecode")
    expected = build_zip(LocalArtifact(folder))

    configuration = aws("lambda").get_function_configuration(
        FunctionName=app.physical_id("HelloFunction")
    )
    assert configuration["CodeSha256"] == expected.sha256


def test_layer_zip_under_python(app: Deployment, aws: Callable[[str], Any]) -> None:
    layer_arn = app.physical_id(app.logical_ids_of("AWS::Lambda::LayerVersion")[0])
    name, version = layer_arn.rsplit(":", 2)[-2:]
    layer = aws("lambda").get_layer_version(LayerName=name, VersionNumber=int(version))
    folder = app.template.parent / "layers" / "common"
    built = build_zip(LocalArtifact(folder, "python/"))

    assert name == "SharedLayer"
    assert layer["Content"]["CodeSha256"] == built.sha256
    assert layer["CompatibleRuntimes"] == ["python3.12"]


def test_state_machine_substitutions(app: Deployment, aws: Callable[[str], Any]) -> None:
    worker_arn = aws("lambda").get_function(FunctionName=app.physical_id("WorkerFunction"))[
        "Configuration"
    ]["FunctionArn"]
    machine = aws("stepfunctions").describe_state_machine(
        stateMachineArn=app.result.outputs["PipelineArn"]
    )
    definition = json.loads(machine["definition"])

    assert definition["States"]["Work"]["Resource"] == worker_arn
    assert "${" not in machine["definition"]
    assert machine["roleArn"].endswith(app.physical_id("PipelineRole"))


def test_scheduled_rules_and_targets(app: Deployment, aws: Callable[[str], Any]) -> None:
    events = aws("events")
    tick = app.physical_id("HelloFunctionTick")
    rule = events.describe_rule(Name=tick)
    (target,) = events.list_targets_by_rule(Rule=tick)["Targets"]
    function_arn = aws("lambda").get_function(FunctionName=app.physical_id("HelloFunction"))[
        "Configuration"
    ]["FunctionArn"]

    assert rule["ScheduleExpression"] == "rate(1 day)"
    assert rule["State"] == "ENABLED"
    assert target["Arn"] == function_arn
    assert json.loads(target["Input"]) == {"source": "tick"}

    weekly = app.physical_id("PipelineWeekly")
    (pipeline_target,) = events.list_targets_by_rule(Rule=weekly)["Targets"]
    assert events.describe_rule(Name=weekly)["ScheduleExpression"] == "cron(0 3 ? * SUN *)"
    assert pipeline_target["Arn"] == app.result.outputs["PipelineArn"]
    assert pipeline_target["RoleArn"].endswith(app.physical_id("PipelineWeeklyRole"))


def test_scheduler_schedule(app: Deployment, aws: Callable[[str], Any]) -> None:
    schedule = aws("scheduler").get_schedule(Name="app-tock")
    assert schedule["ScheduleExpression"] == "rate(5 minutes)"
    assert schedule["Target"]["Arn"].endswith(app.physical_id("HelloFunction"))


def test_rest_api_methods_and_keys(app: Deployment, aws: Callable[[str], Any]) -> None:
    apigateway = aws("apigateway")
    api_id = app.physical_id("Api")
    resources = {item["path"]: item for item in apigateway.get_resources(restApiId=api_id)["items"]}
    predict = apigateway.get_method(
        restApiId=api_id, resourceId=resources["/predict"]["id"], httpMethod="POST"
    )
    health = apigateway.get_method(
        restApiId=api_id, resourceId=resources["/health"]["id"], httpMethod="GET"
    )
    function_name = app.physical_id("HelloFunction")

    assert predict["apiKeyRequired"] is True
    assert health["apiKeyRequired"] is False
    assert predict["methodIntegration"]["type"] == "AWS_PROXY"
    assert f":function:{function_name}/invocations" in predict["methodIntegration"]["uri"]


def test_stage_key_and_usage_plan(app: Deployment, aws: Callable[[str], Any]) -> None:
    apigateway = aws("apigateway")
    api_id = app.physical_id("Api")
    key_id = app.result.outputs["ApiKeyId"]
    stage = apigateway.get_stage(restApiId=api_id, stageName="dev")
    key = apigateway.get_api_key(apiKey=key_id, includeValue=True)
    plan = apigateway.get_usage_plan(usagePlanId=app.physical_id("ApiUsagePlan"))
    plan_keys = apigateway.get_usage_plan_keys(usagePlanId=plan["id"])["items"]

    assert stage["deploymentId"] == app.physical_id(
        app.logical_ids_of("AWS::ApiGateway::Deployment")[0]
    )
    assert key["enabled"] is True
    assert len(key["value"]) == 40
    assert plan["throttle"] == {"rateLimit": 1.5, "burstLimit": 5}
    assert plan["quota"]["limit"] == 100
    assert plan["quota"]["period"] == "DAY"
    assert plan["apiStages"] == [{"apiId": api_id, "stage": "dev"}]
    assert [item["id"] for item in plan_keys] == [key_id]


def test_outputs_local_invoke_url(app: Deployment, endpoint_url: str) -> None:
    api_id = app.physical_id("Api")
    assert app.result.outputs["ApiUrl"] == f"{endpoint_url}/restapis/{api_id}/dev/_user_request_/"
    assert "ProdOnly" not in app.result.outputs


def test_role_gets_managed_policy(app: Deployment, aws: Callable[[str], Any]) -> None:
    iam = aws("iam")
    role = app.physical_id("HelloFunctionRole")
    inline = iam.list_role_policies(RoleName=role)["PolicyNames"]
    attached = [
        policy["PolicyArn"]
        for policy in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    ]
    basic = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
    # The test server runs without MOTO_IAM_LOAD_MANAGED_POLICIES, so the role gets a copy.
    assert basic in attached or "aws-managed-AWSLambdaBasicExecutionRole" in inline
    assert "HelloFunctionRolePolicy0" in inline


def test_stack_record_contents(app: Deployment) -> None:
    record = load_stack(app.state_dir, "app")
    assert record is not None
    assert record.template_path == str(app.template.resolve())
    assert record.status == "DEPLOY_COMPLETE"
    assert record.outputs == app.result.outputs
    assert record.parameter_values["Stage"] == "dev"
    assert record.deployed_at
    bucket = record.resources["RawBucket"]
    assert bucket["Type"] == "AWS::S3::Bucket"
    assert bucket["PhysicalResourceId"] == app.result.outputs["RawBucketName"]
    assert bucket["Attributes"]["Arn"] == f"arn:aws:s3:::{bucket['PhysicalResourceId']}"
    assert [stack.stack_name for stack in list_stacks(app.state_dir)] == ["app"]


def test_stack_record_hides_key_value(app: Deployment, aws: Callable[[str], Any]) -> None:
    key_id = app.result.outputs["ApiKeyId"]
    value = aws("apigateway").get_api_key(apiKey=key_id, includeValue=True)["value"]
    text = (app.state_dir / "stacks" / "app.json").read_text()
    assert value not in text


def test_redeploy_reports_unchanged(app: Deployment, endpoint_url: str) -> None:
    again = deploy(
        app.template, stack_name="app", endpoint_url=endpoint_url, state_dir=app.state_dir
    )
    changed = [(c.logical_id, c.action) for c in again.changes if c.action != "unchanged"]
    assert changed == []
    assert len(again.changes) == len(app.result.changes)
    assert again.outputs == app.result.outputs


def test_local_functions_with_stack(app: Deployment) -> None:
    functions = local_functions(app.template, stack=load_stack(app.state_dir, "app"))
    hello = functions["HelloFunction"]

    assert hello.function_name == app.physical_id("HelloFunction")
    assert hello.environment["RAW_BUCKET"] == app.result.outputs["RawBucketName"]
    assert hello.environment["GREETING_SOURCE"] == "app-dev"


def test_changed_handler_updates_function(
    endpoint_url: str, aws: Callable[[str], Any], tmp_path: Path
) -> None:
    template = copy_fixture("app", tmp_path)
    state_dir = tmp_path / "state"
    first = deploy(template, stack_name="edit", endpoint_url=endpoint_url, state_dir=state_dir)
    hello = next(c.physical_id for c in first.changes if c.logical_id == "HelloFunction")
    before = aws("lambda").get_function_configuration(FunctionName=hello)["CodeSha256"]

    handler = template.parent / "functions" / "hello" / "app.py"
    handler.write_text(handler.read_text() + "\n# changed\n")
    second = deploy(template, stack_name="edit", endpoint_url=endpoint_url, state_dir=state_dir)
    after = aws("lambda").get_function_configuration(FunctionName=hello)["CodeSha256"]

    changed = {c.logical_id: c.action for c in second.changes if c.action != "unchanged"}
    assert changed == {"HelloFunction": "updated"}
    assert after != before
    expected = base64.b64encode(
        hashlib.sha256(build_zip(LocalArtifact(handler.parent)).content).digest()
    )
    assert after == expected.decode()


def test_changed_layer_publishes_version(
    endpoint_url: str, aws: Callable[[str], Any], tmp_path: Path
) -> None:
    template = copy_fixture("app", tmp_path)
    state_dir = tmp_path / "state"
    first = deploy(template, stack_name="layer", endpoint_url=endpoint_url, state_dir=state_dir)
    layer_id = next(c.logical_id for c in first.changes if c.resource_type.endswith("LayerVersion"))
    old_arn = next(c.physical_id for c in first.changes if c.logical_id == layer_id)

    package = template.parent / "layers" / "common" / "greeting" / "__init__.py"
    package.write_text('GREETING = "hello again"\n')
    second = deploy(template, stack_name="layer", endpoint_url=endpoint_url, state_dir=state_dir)
    new_arn = next(c.physical_id for c in second.changes if c.logical_id == layer_id)
    hello = next(c.physical_id for c in second.changes if c.logical_id == "HelloFunction")
    layers = aws("lambda").get_function_configuration(FunctionName=hello)["Layers"]
    versions = aws("lambda").list_layer_versions(LayerName="SharedLayer")["LayerVersions"]

    changed = {c.logical_id: c.action for c in second.changes if c.action != "unchanged"}
    assert changed == {layer_id: "updated", "HelloFunction": "updated", "WorkerFunction": "updated"}
    assert new_arn != old_arn
    assert [layer["Arn"] for layer in layers] == [new_arn]
    assert old_arn not in [version["LayerVersionArn"] for version in versions]


def test_extras_and_removed_resources(
    endpoint_url: str, aws: Callable[[str], Any], tmp_path: Path
) -> None:
    template = copy_fixture("extras", tmp_path)
    state_dir = tmp_path / "state"
    prod = deploy(
        template,
        stack_name="extras",
        endpoint_url=endpoint_url,
        state_dir=state_dir,
        parameter_overrides={"Stage": "prod"},
    )
    ssm = aws("ssm")
    prod_only = next(c.physical_id for c in prod.changes if c.logical_id == "ProdOnlyParameter")
    parameter = ssm.get_parameter(Name=prod.outputs["ParameterName"])["Parameter"]
    log_group = aws("logs").describe_log_groups(logGroupNamePrefix="extras-auditloggroup-")
    secret = json.loads(
        aws("secretsmanager").get_secret_value(SecretId=prod.outputs["SecretArn"])["SecretString"]
    )

    assert parameter["Value"] == "random-forest-v2"
    assert ssm.get_parameter(Name=prod_only)["Parameter"]["Value"] == "only in prod"
    assert log_group["logGroups"][0]["retentionInDays"] == 7
    assert prod.outputs["LogGroupArn"].startswith("arn:aws:logs:us-east-1:123456789012:log-group:")
    assert secret["username"] == "mhpe"
    assert len(secret["password"]) == 24

    iam = aws("iam")
    role = next(c.physical_id for c in prod.changes if c.logical_id == "ReaderRole")
    list_policy = next(c.physical_id for c in prod.changes if c.logical_id == "ListPolicy")
    bucket = next(c.physical_id for c in prod.changes if c.logical_id == "ArchiveBucket")
    read = iam.get_role_policy(RoleName=role, PolicyName="read-archive")["PolicyDocument"]
    attached = iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    bucket_policy = json.loads(aws("s3").get_bucket_policy(Bucket=bucket)["Policy"])
    assert read["Statement"][0]["Resource"] == f"arn:aws:s3:::{bucket}/*"
    assert [policy["PolicyArn"] for policy in attached] == [list_policy]
    assert bucket_policy["Statement"][0]["Sid"] == "DenyInsecureTransport"

    dev = deploy(template, stack_name="extras", endpoint_url=endpoint_url, state_dir=state_dir)
    actions = {c.logical_id: c.action for c in dev.changes}
    assert actions["ProdOnlyParameter"] == "deleted"
    assert actions["DatabaseSecret"] == "unchanged"
    with pytest.raises(ssm.exceptions.ParameterNotFound):
        ssm.get_parameter(Name=prod_only)


def test_failed_deploy_keeps_record(
    endpoint_url: str, aws: Callable[[str], Any], tmp_path: Path
) -> None:
    template = copy_fixture("partial", tmp_path)
    state_dir = tmp_path / "state"
    with pytest.raises(DeployError) as caught:
        deploy(template, stack_name="partial", endpoint_url=endpoint_url, state_dir=state_dir)
    failed = load_stack(state_dir, "partial")

    assert caught.value.logical_id == "Second"
    assert "not-a-data-type" in caught.value.reason
    assert failed is not None
    assert failed.status == "DEPLOY_FAILED"
    assert "resource Second (AWS::SSM::Parameter) failed" in failed.status_reason
    assert sorted(failed.resources) == ["First"]

    fixed = deploy(
        template,
        stack_name="partial",
        endpoint_url=endpoint_url,
        state_dir=state_dir,
        parameter_overrides={"DataType": "text"},
    )
    actions = {change.logical_id: change.action for change in fixed.changes}
    assert actions == {"First": "unchanged", "Second": "created"}
    assert load_stack(state_dir, "partial").status == "DEPLOY_COMPLETE"


def test_template_errors_create_nothing(endpoint_url: str, tmp_path: Path) -> None:
    with pytest.raises(TemplateError) as caught:
        deploy(
            FIXTURES / "invalid" / "missing_code_folder.yaml",
            stack_name="broken",
            endpoint_url=endpoint_url,
            state_dir=tmp_path,
        )
    assert caught.value.resource == "IngestFunction"
    assert caught.value.property_name == "CodeUri"
    assert str(caught.value).endswith(
        "resource IngestFunction, property CodeUri: folder functions/nope/ does not exist"
    )
    assert load_stack(tmp_path, "broken") is None


@pytest.mark.skipif(
    not PRODUCT_TEMPLATE.exists(), reason="the product template.yaml is not written yet"
)
def test_product_template_deploys(endpoint_url: str, tmp_path: Path) -> None:
    first = deploy(
        PRODUCT_TEMPLATE, stack_name="mhpe", endpoint_url=endpoint_url, state_dir=tmp_path
    )
    second = deploy(
        PRODUCT_TEMPLATE, stack_name="mhpe", endpoint_url=endpoint_url, state_dir=tmp_path
    )

    assert {c.action for c in first.changes} == {"created"}
    assert [c.logical_id for c in second.changes if c.action != "unchanged"] == []
    assert "/_user_request_/" in first.outputs["ApiUrl"]
