"""Step Functions executions run the real ASL, with Lambda tasks on the local runtime."""

from __future__ import annotations

import json

import pytest

from tests.integration.conftest import Cloud, wait_for

pytestmark = pytest.mark.integration


def run_execution(cloud: Cloud, payload: dict) -> dict:
    sfn = cloud.client("stepfunctions")
    execution_arn = sfn.start_execution(
        stateMachineArn=cloud.outputs["PipelineArn"], input=json.dumps(payload)
    )["executionArn"]

    def finished() -> dict | None:
        description = sfn.describe_execution(executionArn=execution_arn)
        return description if description["status"] != "RUNNING" else None

    return wait_for(finished, 60, f"execution {execution_arn} to finish")


def test_execution_succeeds_through_choice_parallel_and_map(cloud: Cloud) -> None:
    description = run_execution(cloud, {"value": 6, "items": [{"value": 1}, {"value": 2}]})
    output = json.loads(description["output"])

    assert description["status"] == "SUCCEEDED"
    assert output["value"] == 12
    assert output["branches"][0]["value"] == 24
    assert output["branches"][1] == {"size": "big"}
    assert [item["value"] for item in output["doubled"]] == [2, 4]
    assert output["check"] == {"ok": True}


def test_execution_takes_choice_default_branch(cloud: Cloud) -> None:
    description = run_execution(cloud, {"value": 2})

    assert description["status"] == "SUCCEEDED"
    assert json.loads(description["output"])["size"] == "small"


def test_execution_enters_catch_branch_when_task_fails(cloud: Cloud) -> None:
    description = run_execution(cloud, {"value": 1, "explode": True})
    output = json.loads(description["output"])

    assert description["status"] == "SUCCEEDED"
    assert output["status"] == "recovered"
    assert "asked to explode" in output["error"]["Cause"]


def test_execution_history_lists_task_events(cloud: Cloud) -> None:
    description = run_execution(cloud, {"value": 2})
    history = cloud.client("stepfunctions").get_execution_history(
        executionArn=description["executionArn"]
    )["events"]
    types = [event["type"] for event in history]

    assert types[0] == "ExecutionStarted"
    assert "LambdaFunctionSucceeded" in types or "TaskSucceeded" in types
    assert types[-1] == "ExecutionSucceeded"


def test_awslocal_lists_executions(cloud: Cloud) -> None:
    run_execution(cloud, {"value": 3})

    result = cloud.awslocal(
        "stepfunctions", "list-executions", "--state-machine-arn", cloud.outputs["PipelineArn"]
    )

    assert json.loads(result.stdout)["executions"]
