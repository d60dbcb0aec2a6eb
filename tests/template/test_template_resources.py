"""What template.yaml declares, before and after the SAM transform."""

import ast
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.template.template_support import (
    PIPELINE_FUNCTIONS,
    REPO_ROOT,
    dockerfile_path,
    function_resources,
    handler_folder,
    is_image_function,
)

BUCKETS = ("RawBucket", "CuratedBucket", "QuarantineBucket", "ModelsBucket", "ReportsBucket")

# The functions whose code, packages and shared layer exceed Lambda's 250 MiB unzipped limit
# for zip functions, measured with `sam build`: they ship as container images.
IMAGE_FUNCTIONS = {
    "IngestFunction",
    "ValidateFunction",
    "TrainFunction",
    "EvaluateFunction",
    "DriftFunction",
}
# Properties that Lambda rejects on a container image function.
ZIP_ONLY_PROPERTIES = ("CodeUri", "Runtime", "Handler", "Layers")

API_ROUTES = {
    ("/predict", "post"),
    ("/predict/batch", "post"),
    ("/health", "get"),
    ("/model", "get"),
    ("/{proxy+}", "x-amazon-apigateway-any-method"),
}


def _iter_policy_statements(translated: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield (role logical id, statement) for every inline policy statement of every role."""
    for logical_id, resource in translated["Resources"].items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        for policy in resource["Properties"].get("Policies", []):
            statements = policy["PolicyDocument"]["Statement"]
            if isinstance(statements, dict):
                statements = [statements]
            for statement in statements:
                yield logical_id, statement


def _refs(value: Any) -> Iterator[str]:
    """Yield every logical id that a value names with Ref or Fn::GetAtt."""
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                yield inner
            elif key == "Fn::GetAtt":
                yield inner[0] if isinstance(inner, list) else inner.split(".")[0]
            else:
                yield from _refs(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _refs(inner)


def test_parameters_have_product_defaults(template: dict[str, Any]) -> None:
    parameters = template["Parameters"]

    assert parameters["Stage"]["Default"] == "dev"
    assert float(parameters["ApiRateLimit"]["Default"]) == pytest.approx(100 / 60, abs=0.01)
    assert int(parameters["ApiBurstLimit"]["Default"]) == 10
    assert int(parameters["ApiQuotaLimit"]["Default"]) == 10000
    assert parameters["ApiQuotaPeriod"]["Default"] == "DAY"
    assert parameters["DriftSchedule"]["Default"] == "rate(1 day)"
    assert parameters["RetrainSchedule"]["Default"] == "cron(0 3 ? * SUN *)"


def test_globals_set_architecture_and_environment(template: dict[str, Any]) -> None:
    function_globals = template["Globals"]["Function"]
    variables = function_globals["Environment"]["Variables"]

    # Globals apply to image functions too, which may declare no zip-only property.
    for name in ZIP_ONLY_PROPERTIES:
        assert name not in function_globals, name
    assert function_globals["Architectures"] == ["x86_64"]
    assert variables["POWERTOOLS_SERVICE_NAME"] == "mhpe"
    assert "LOG_LEVEL" in variables
    for bucket in ("CuratedBucket", "QuarantineBucket", "ModelsBucket", "ReportsBucket"):
        variable = f"{bucket.removesuffix('Bucket').upper()}_BUCKET_NAME"
        assert variables[variable] == {"Ref": bucket}, variable


def test_raw_bucket_name_matches_environment(template: dict[str, Any]) -> None:
    # The raw bucket's name is spelled out in three places to avoid a dependency cycle, so
    # they must stay equal.
    bucket_name = template["Resources"]["RawBucket"]["Properties"]["BucketName"]
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    ingest_policies = template["Resources"]["IngestFunction"]["Properties"]["Policies"]

    assert variables["RAW_BUCKET_NAME"] == bucket_name
    assert ingest_policies[0]["S3ReadPolicy"]["BucketName"] == bucket_name


def test_shared_layer_builds_from_layers_common(template: dict[str, Any]) -> None:
    layer = template["Resources"]["SharedLayer"]

    assert layer["Type"] == "AWS::Serverless::LayerVersion"
    assert layer["Properties"]["ContentUri"] == "layers/common/"
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.12"]
    assert layer["Metadata"]["BuildMethod"] == "python3.12"
    assert (REPO_ROOT / "layers" / "common" / "mhpe" / "__init__.py").is_file()


@pytest.mark.parametrize("bucket", BUCKETS)
def test_bucket_versioned_encrypted_private(template: dict[str, Any], bucket: str) -> None:
    properties = template["Resources"][bucket]["Properties"]
    public_access = properties["PublicAccessBlockConfiguration"]
    encryption = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]

    assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
    for setting in ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls"):
        assert public_access[setting] is True, setting
    assert public_access["RestrictPublicBuckets"] is True
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"


def test_zip_functions_set_runtime_handler_layer(template: dict[str, Any]) -> None:
    zip_functions = {
        logical_id: resource["Properties"]
        for logical_id, resource in function_resources(template).items()
        if not is_image_function(resource)
    }

    assert set(zip_functions) == {"PromoteFunction", "ServeFunction"}
    for logical_id, properties in zip_functions.items():
        assert properties["PackageType"] == "Zip", logical_id
        assert properties["Runtime"] == "python3.12", logical_id
        assert properties["Handler"] == "app.lambda_handler", logical_id
        assert properties["Layers"] == [{"Ref": "SharedLayer"}], logical_id


def test_large_functions_ship_as_images(template: dict[str, Any]) -> None:
    image_functions = {
        logical_id: resource
        for logical_id, resource in function_resources(template).items()
        if is_image_function(resource)
    }

    assert set(image_functions) == IMAGE_FUNCTIONS
    for logical_id, resource in image_functions.items():
        properties = resource["Properties"]
        metadata = resource["Metadata"]
        for name in ZIP_ONLY_PROPERTIES:
            assert name not in properties, f"{logical_id}: {name} is not allowed on an image"
        assert properties["ImageConfig"]["Command"] == ["app.lambda_handler"], logical_id
        assert metadata["DockerContext"] == ".", logical_id
        assert metadata["DockerTag"], logical_id
        assert dockerfile_path(resource).is_file(), f"{logical_id}: {metadata['Dockerfile']}"


def _instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """Return (KEYWORD, arguments) of each instruction; continued lines are left out."""
    instructions = []
    for line in dockerfile.read_text().splitlines():
        if not line.strip() or line.startswith((" ", "#")):
            continue
        keyword, _, arguments = line.partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
    return instructions


def test_image_dockerfiles_multi_stage_non_root(template: dict[str, Any]) -> None:
    for logical_id, resource in function_resources(template).items():
        if not is_image_function(resource):
            continue
        dockerfile = dockerfile_path(resource)
        instructions = _instructions(dockerfile)
        stage_starts = [i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM"]
        final_stage = instructions[stage_starts[-1] :]
        users = [arguments for keyword, arguments in final_stage if keyword == "USER"]
        commands = [arguments for keyword, arguments in final_stage if keyword == "CMD"]
        copies = [arguments for keyword, arguments in final_stage if keyword == "COPY"]
        for name, value in resource["Metadata"].get("DockerBuildArgs", {}).items():
            copies = [arguments.replace(f"${{{name}}}", value) for arguments in copies]
        handler_source = handler_folder(resource).relative_to(REPO_ROOT) / "app.py"

        assert len(stage_starts) >= 2, f"{logical_id}: {dockerfile} is not a multi-stage build"
        assert users, f"{logical_id}: {dockerfile} runs as root"
        assert users[-1].split(":")[0] not in ("root", "0"), f"{logical_id}: user {users[-1]}"
        assert commands, f"{logical_id}: {dockerfile} has no CMD"
        assert json.loads(commands[-1]) == resource["Properties"]["ImageConfig"]["Command"]
        assert any(arguments.startswith(f"{handler_source} ") for arguments in copies), (
            f"{logical_id}: {dockerfile} does not copy {handler_source}"
        )


def test_every_function_handler_file_exists(template: dict[str, Any]) -> None:
    functions = function_resources(template)

    assert len(functions) == 7
    for logical_id, resource in functions.items():
        properties = resource["Properties"]
        code_dir = handler_folder(resource)
        if is_image_function(resource):
            handler = properties["ImageConfig"]["Command"][0]
        else:
            handler = properties["Handler"]
        module_name, function_name = handler.rsplit(".", 1)
        handler_file = code_dir / f"{module_name.replace('.', '/')}.py"

        assert handler_file.is_file(), f"{logical_id}: handler file {handler_file} missing"
        defined = {
            node.name
            for node in ast.parse(handler_file.read_text()).body
            if isinstance(node, ast.FunctionDef)
        }
        assert function_name in defined, f"{logical_id}: {handler_file} defines no {function_name}"
        requirements = (code_dir / "requirements.txt").read_text()
        assert "aws-lambda-powertools" in requirements, f"{logical_id}: powertools not required"


def test_function_timeouts_fit_their_work(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    train = resources["TrainFunction"]["Properties"]
    serve = resources["ServeFunction"]["Properties"]

    assert train["Timeout"] == 900
    assert train["MemorySize"] == 3008
    # API Gateway's default maximum REST integration timeout is 29 s.
    assert serve["Timeout"] <= 29


def test_ingest_subscribed_to_raw_batches(translated_template: dict[str, Any]) -> None:
    notification = translated_template["Resources"]["RawBucket"]["Properties"][
        "NotificationConfiguration"
    ]
    (subscription,) = notification["LambdaConfigurations"]

    assert subscription["Event"] == "s3:ObjectCreated:*"
    assert subscription["Function"] == {"Fn::GetAtt": ["IngestFunction", "Arn"]}
    assert subscription["Filter"]["S3Key"]["Rules"] == [{"Name": "prefix", "Value": "batches/"}]


def test_policies_name_no_wildcard_resource(translated_template: dict[str, Any]) -> None:
    for role, statement in _iter_policy_statements(translated_template):
        resources = statement["Resource"]
        if not isinstance(resources, list):
            resources = [resources]
        assert "*" not in resources, f"{role} allows {statement['Action']} on every resource"


def test_function_roles_attach_only_basic_execution(
    translated_template: dict[str, Any], template: dict[str, Any]
) -> None:
    # An AWS managed policy such as AWSLambdaRole grants actions on "*", so beyond the
    # logging permissions of AWSLambdaBasicExecutionRole every grant must be inline.
    basic_execution = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
    resources = translated_template["Resources"]

    for logical_id in function_resources(template):
        role = resources[f"{logical_id}Role"]["Properties"]
        assert role["ManagedPolicyArns"] == [basic_execution], logical_id


def test_pipeline_role_invokes_only_its_functions(template: dict[str, Any]) -> None:
    properties = template["Resources"]["TrainingPipeline"]["Properties"]
    policies = properties["Policies"]
    invoked = {
        policy["LambdaInvokePolicy"]["FunctionName"]["Ref"]
        for policy in policies
        if "LambdaInvokePolicy" in policy
    }
    written = [policy["S3WritePolicy"] for policy in policies if "S3WritePolicy" in policy]
    substituted = {
        value["Fn::GetAtt"][0]
        for value in properties["DefinitionSubstitutions"].values()
        if "Fn::GetAtt" in value
    }

    assert invoked == set(PIPELINE_FUNCTIONS)
    assert substituted == set(PIPELINE_FUNCTIONS)
    # The failure-report states write only to the reports bucket.
    assert written == [{"BucketName": {"Ref": "ReportsBucket"}}]
    assert len(policies) == len(PIPELINE_FUNCTIONS) + 1


def test_api_requires_key_on_every_route(translated_template: dict[str, Any]) -> None:
    body = translated_template["Resources"]["Api"]["Properties"]["Body"]
    routes = {(path, method) for path, methods in body["paths"].items() for method in methods}

    assert routes == API_ROUTES
    for path, methods in body["paths"].items():
        for method, operation in methods.items():
            assert operation["security"] == [{"api_key": []}], f"{method} {path} needs no key"
            integration = operation["x-amazon-apigateway-integration"]
            assert integration["type"] == "aws_proxy", f"{method} {path}"
            assert "${ServeFunction.Arn}" in integration["uri"]["Fn::Sub"], f"{method} {path}"


def test_usage_plan_binds_key_throttle_quota(translated_template: dict[str, Any]) -> None:
    resources = translated_template["Resources"]
    usage_plan = resources["ApiUsagePlan"]["Properties"]
    usage_plan_key = resources["ApiUsagePlanKey"]["Properties"]

    assert usage_plan["Throttle"] == {"RateLimit": 1.67, "BurstLimit": 10}
    assert usage_plan["Quota"] == {"Limit": 10000, "Period": "DAY"}
    assert usage_plan["ApiStages"] == [{"ApiId": {"Ref": "Api"}, "Stage": {"Ref": "ApiStage"}}]
    assert resources["ApiApiKey"]["Type"] == "AWS::ApiGateway::ApiKey"
    assert usage_plan_key["KeyId"] == {"Ref": "ApiApiKey"}
    assert usage_plan_key["UsagePlanId"] == {"Ref": "ApiUsagePlan"}


def test_schedules_use_their_parameters(translated_template: dict[str, Any]) -> None:
    rules = {
        logical_id: resource["Properties"]
        for logical_id, resource in translated_template["Resources"].items()
        if resource["Type"] == "AWS::Events::Rule"
    }
    drift_rule = rules["DriftFunctionDriftCheck"]
    retrain_rule = rules["TrainingPipelineWeeklyRetraining"]
    (retrain_target,) = retrain_rule["Targets"]

    assert drift_rule["ScheduleExpression"] == {"Ref": "DriftSchedule"}
    assert drift_rule["Targets"][0]["Arn"] == {"Fn::GetAtt": ["DriftFunction", "Arn"]}
    assert retrain_rule["ScheduleExpression"] == {"Ref": "RetrainSchedule"}
    assert retrain_target["Arn"] == {"Ref": "TrainingPipeline"}
    assert retrain_target["Input"] == '{"force": true, "reason": "weekly retraining"}'


def test_outputs_name_existing_resources(translated_template: dict[str, Any]) -> None:
    outputs = translated_template["Outputs"]
    resources = translated_template["Resources"]
    parameters = translated_template["Parameters"]
    expected = {
        "RawBucketName", "CuratedBucketName", "QuarantineBucketName", "ModelsBucketName",
        "ReportsBucketName", "TrainingPipelineArn", "ApiUrl", "ApiKeyId",
    }  # fmt: skip

    assert set(outputs) == expected
    for name, output in outputs.items():
        for logical_id in _refs(output["Value"]):
            assert logical_id in resources or logical_id in parameters, (
                f"output {name} names {logical_id}, which the translated template lacks"
            )
    api_url = outputs["ApiUrl"]["Value"]["Fn::Sub"]
    assert api_url == "https://${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}/${Stage}/"
