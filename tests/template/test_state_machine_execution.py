"""Executions of the training pipeline's definition in moto's Step Functions interpreter.

moto runs the ASL as written. Its Docker-free Lambda backend returns queued results in
invocation order instead of running code, which lets each test choose what the validate,
train, evaluate and promote steps return. Catch and Retry cannot be exercised this way because
that backend never fails an invocation, so test_state_machine_definition.py checks them.
"""

import io
import json
import time
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.awslambda_simple.models import lambda_simple_backends
from moto.moto_api._internal.models import moto_api_backend

from tests.template.template_support import PIPELINE_FUNCTIONS, load_definition, load_event

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
EXECUTION_TIMEOUT_S = 30
MOTO_CONFIG: dict[str, Any] = {
    "lambda": {"use_docker": False},
    "stepfunctions": {"execute_state_machine": True},
}
LAMBDA_TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": ["lambda.amazonaws.com", "states.amazonaws.com"]},
            "Action": "sts:AssumeRole",
        }
    ],
}


@dataclass(frozen=True)
class Pipeline:
    stepfunctions: Any
    state_machine_arn: str
    function_arns: dict[str, str]


@dataclass(frozen=True)
class Execution:
    arn: str
    status: str
    error: str | None
    output: dict[str, Any] | None
    entered_states: list[str]
    invoked_functions: list[str]
    first_task_input: dict[str, Any] | None


def _handler_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def lambda_handler(event, context):\n    return event\n")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def pipeline() -> Iterator[Pipeline]:
    with mock_aws(config=MOTO_CONFIG):
        iam = boto3.client("iam", region_name=REGION)
        lambda_client = boto3.client("lambda", region_name=REGION)
        stepfunctions = boto3.client("stepfunctions", region_name=REGION)
        role_arn = iam.create_role(
            RoleName="training-pipeline-test",
            AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST_POLICY),
        )["Role"]["Arn"]

        function_arns = {}
        for logical_id in PIPELINE_FUNCTIONS:
            function_arns[logical_id] = lambda_client.create_function(
                FunctionName=logical_id,
                Runtime="python3.12",
                Role=role_arn,
                Handler="app.lambda_handler",
                Code={"ZipFile": _handler_zip()},
            )["FunctionArn"]

        definition = json.dumps(load_definition())
        for logical_id, function_arn in function_arns.items():
            definition = definition.replace(f"${{{logical_id}Arn}}", function_arn)
        definition = definition.replace("${ReportsBucketName}", "pipeline-reports")
        state_machine_arn = stepfunctions.create_state_machine(
            name="TrainingPipeline", definition=definition, roleArn=role_arn
        )["stateMachineArn"]

        yield Pipeline(stepfunctions, state_machine_arn, function_arns)


def _run(
    pipeline: Pipeline, step_results: list[dict[str, Any]], state: dict[str, Any]
) -> Execution:
    """Queue the Lambda results, run one execution to its end and return what happened."""
    # The queue belongs to moto's Lambda backend, so a failed earlier test may have left results.
    lambda_simple_backends[ACCOUNT_ID][REGION].lambda_simple_results_queue.clear()
    for result in step_results:
        moto_api_backend.set_lambda_simple_result(json.dumps(result), ACCOUNT_ID, REGION)

    # moto 5.2.5 names every unnamed execution "None", so each execution gets a name.
    execution_arn = pipeline.stepfunctions.start_execution(
        stateMachineArn=pipeline.state_machine_arn,
        name=f"test-{uuid.uuid4().hex[:12]}",
        input=json.dumps(state),
    )["executionArn"]

    deadline = time.monotonic() + EXECUTION_TIMEOUT_S
    description = pipeline.stepfunctions.describe_execution(executionArn=execution_arn)
    while description["status"] == "RUNNING":
        assert time.monotonic() < deadline, (
            f"{execution_arn} still running after {EXECUTION_TIMEOUT_S} s"
        )
        time.sleep(0.05)
        description = pipeline.stepfunctions.describe_execution(executionArn=execution_arn)

    events = pipeline.stepfunctions.get_execution_history(executionArn=execution_arn)["events"]
    scheduled = [
        event["lambdaFunctionScheduledEventDetails"]
        for event in events
        if event["type"] == "LambdaFunctionScheduled"
    ]
    arn_to_function = {arn: logical_id for logical_id, arn in pipeline.function_arns.items()}
    return Execution(
        arn=execution_arn,
        status=description["status"],
        error=description.get("error"),
        output=json.loads(description["output"]) if "output" in description else None,
        entered_states=[
            event["stateEnteredEventDetails"]["name"]
            for event in events
            if "stateEnteredEventDetails" in event
        ],
        invoked_functions=[arn_to_function[details["resource"]] for details in scheduled],
        first_task_input=json.loads(scheduled[0]["input"]) if scheduled else None,
    )


@pytest.fixture
def batch_state() -> dict[str, Any]:
    """The pipeline input for the sample batch, as the ingest function will send it."""
    state = load_event("validate.json")
    del state["execution"]
    return state


GATE_PASSED = {"step": "validate", "quality_gate": {"passed": True}}
TRAINED = {"step": "train", "trained": True, "model_version": "3"}
SKIPPED = {"step": "train", "trained": False, "reason": "12 new curated rows"}
CHALLENGER_BETTER = {"step": "evaluate", "promote": True}
CHAMPION_BETTER = {"step": "evaluate", "promote": False}
PROMOTED = {"step": "promote", "model_version": "3"}


def test_better_challenger_is_promoted(pipeline: Pipeline, batch_state: dict[str, Any]) -> None:
    execution = _run(pipeline, [GATE_PASSED, TRAINED, CHALLENGER_BETTER, PROMOTED], batch_state)

    assert execution.status == "SUCCEEDED"
    assert execution.invoked_functions == list(PIPELINE_FUNCTIONS)
    assert execution.entered_states[-1] == "ChallengerPromoted"
    assert execution.output is not None
    assert execution.output["batch"] == batch_state["batch"]
    assert execution.output["validation"] == GATE_PASSED
    assert execution.output["training"] == TRAINED
    assert execution.output["evaluation"] == CHALLENGER_BETTER
    assert execution.output["promotion"] == PROMOTED


def test_validate_receives_execution_arn(pipeline: Pipeline, batch_state: dict[str, Any]) -> None:
    execution = _run(pipeline, [GATE_PASSED, TRAINED, CHAMPION_BETTER], batch_state)

    assert execution.first_task_input is not None
    assert execution.first_task_input["execution"] == {"arn": execution.arn}
    assert execution.first_task_input["batch"] == batch_state["batch"]


def test_better_champion_is_kept(pipeline: Pipeline, batch_state: dict[str, Any]) -> None:
    execution = _run(pipeline, [GATE_PASSED, TRAINED, CHAMPION_BETTER], batch_state)

    assert execution.status == "SUCCEEDED"
    assert "PromoteFunction" not in execution.invoked_functions
    assert execution.entered_states[-1] == "ChampionKept"


def test_missing_promote_decision_keeps_champion(
    pipeline: Pipeline, batch_state: dict[str, Any]
) -> None:
    execution = _run(pipeline, [GATE_PASSED, TRAINED, {"step": "evaluate"}], batch_state)

    assert execution.status == "SUCCEEDED"
    assert execution.entered_states[-1] == "ChampionKept"


@pytest.mark.parametrize(
    "validation",
    [
        {"step": "validate", "quality_gate": {"passed": False}},
        {"step": "validate", "quality_gate": {"passed": "true"}},
        {"step": "validate"},
    ],
    ids=["gate-failed", "passed-not-boolean", "no-gate-result"],
)
def test_quality_gate_stops_pipeline(
    pipeline: Pipeline, batch_state: dict[str, Any], validation: dict[str, Any]
) -> None:
    execution = _run(pipeline, [validation], batch_state)

    assert execution.status == "FAILED"
    assert execution.error == "QualityGateFailed"
    assert execution.invoked_functions == ["ValidateFunction"]


def test_weekly_retraining_starts_at_train(pipeline: Pipeline) -> None:
    weekly_input = {"force": True, "reason": "weekly retraining"}

    execution = _run(pipeline, [TRAINED, CHAMPION_BETTER], weekly_input)

    assert execution.status == "SUCCEEDED"
    assert execution.invoked_functions == ["TrainFunction", "EvaluateFunction"]
    assert execution.first_task_input is not None
    assert execution.first_task_input["force"] is True


@pytest.mark.parametrize(
    "training", [SKIPPED, {"step": "train"}], ids=["skipped", "no-trained-flag"]
)
def test_skipped_training_ends_pipeline(
    pipeline: Pipeline, batch_state: dict[str, Any], training: dict[str, Any]
) -> None:
    execution = _run(pipeline, [GATE_PASSED, training], batch_state)

    assert execution.status == "SUCCEEDED"
    assert execution.invoked_functions == ["ValidateFunction", "TrainFunction"]
    assert execution.entered_states[-1] == "TrainingSkipped"
