"""The training pipeline's ASL definition: structure, substitutions, retries and failures."""

import json
import re
from collections.abc import Iterator
from typing import Any

from tests.template.template_support import PIPELINE_FUNCTIONS, load_definition

TRANSIENT_LAMBDA_ERRORS = {
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
}
PLACEHOLDER = re.compile(r"\$\{(\w+)\}")
REPORT_RESOURCE = "arn:aws:states:::aws-sdk:s3:putObject"


def _transitions(state: dict[str, Any]) -> Iterator[str]:
    """Yield the name of every state that a state can move to."""
    if "Next" in state:
        yield state["Next"]
    if "Default" in state:
        yield state["Default"]
    for choice in state.get("Choices", []):
        yield choice["Next"]
    for catcher in state.get("Catch", []):
        yield catcher["Next"]


# Task states that clean up after a failed step, not steps of the pipeline.
CLEANUP_STATES = {"ReleaseTrainingClaim"}


def _task_states(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Return the Task states that run a pipeline step, in definition order."""
    return {
        name: state
        for name, state in definition["States"].items()
        if state["Type"] == "Task"
        and state["Resource"].endswith("FunctionArn}")
        and name not in CLEANUP_STATES
    }


def _report_states(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Return the Task states that write a failed state to the reports bucket."""
    return {
        name: state
        for name, state in definition["States"].items()
        if state["Type"] == "Task" and state["Resource"] == REPORT_RESOURCE
    }


def test_every_placeholder_has_a_substitution(template: dict[str, Any]) -> None:
    substitutions = template["Resources"]["TrainingPipeline"]["Properties"][
        "DefinitionSubstitutions"
    ]
    definition = load_definition()
    resources = {state["Resource"] for state in _task_states(definition).values()}
    placeholders = set(PLACEHOLDER.findall(json.dumps(definition)))

    assert placeholders == set(substitutions)
    for resource in resources:
        assert PLACEHOLDER.fullmatch(resource), f"task resource {resource} is not a placeholder"
    for placeholder, value in substitutions.items():
        if placeholder.endswith("FunctionArn"):
            assert value == {"Fn::GetAtt": [placeholder.removesuffix("Arn"), "Arn"]}, placeholder
    assert substitutions["ReportsBucketName"] == {"Ref": "ReportsBucket"}


def test_every_transition_reaches_a_defined_state() -> None:
    definition = load_definition()
    states = definition["States"]
    reachable = {definition["StartAt"]}
    pending = [definition["StartAt"]]

    while pending:
        name = pending.pop()
        assert name in states, f"transition to undefined state {name}"
        for target in _transitions(states[name]):
            if target not in reachable:
                reachable.add(target)
                pending.append(target)

    assert reachable == set(states), f"unreachable states: {set(states) - reachable}"


def test_tasks_run_pipeline_functions_in_order() -> None:
    tasks = _task_states(load_definition())

    assert list(tasks) == ["Validate", "Train", "Evaluate", "Promote"]
    for (name, state), function in zip(tasks.items(), PIPELINE_FUNCTIONS, strict=True):
        assert state["Resource"] == f"${{{function}Arn}}", name


def test_every_task_retries_transient_lambda_errors() -> None:
    for name, state in _task_states(load_definition()).items():
        retried = {error for retrier in state.get("Retry", []) for error in retrier["ErrorEquals"]}

        assert TRANSIENT_LAMBDA_ERRORS <= retried, (
            f"{name} does not retry {TRANSIENT_LAMBDA_ERRORS}"
        )
        assert "States.ALL" not in retried, f"{name} retries every error, bugs included"


def test_every_task_reports_then_fails_in_its_fail_state() -> None:
    definition = load_definition()
    states = definition["States"]

    for name, state in _task_states(definition).items():
        catcher = state["Catch"][-1]
        cleanup = states[catcher["Next"]] if catcher["Next"] in CLEANUP_STATES else None
        report_name = cleanup["Next"] if cleanup else catcher["Next"]
        report = states[report_name]
        fail_state = states[report["Next"]]

        assert catcher["ErrorEquals"] == ["States.ALL"], name
        assert report_name == f"Report{name}Failure", name
        assert report["Resource"] == REPORT_RESOURCE, name
        assert report["Catch"][0]["Next"] == f"{name}Failed", name
        assert fail_state["Type"] == "Fail", name
        assert fail_state["Error"] == f"{name}Failed", name


def test_failure_reports_go_to_reports_bucket() -> None:
    reports = _report_states(load_definition())

    assert set(reports) == {f"Report{name}Failure" for name in _task_states(load_definition())}
    for name, state in reports.items():
        parameters = state["Parameters"]
        assert parameters["Bucket"] == "${ReportsBucketName}", name
        assert parameters["Key.$"].startswith("States.Format('pipeline-failures/"), name
        assert parameters["Body.$"] == "States.JsonToString($)", name
        assert state["ResultPath"] == "$.failure_report", name


def test_failed_training_releases_its_claim() -> None:
    states = load_definition()["States"]
    train_catch = states["Train"]["Catch"][-1]
    release = states["ReleaseTrainingClaim"]

    assert train_catch["Next"] == "ReleaseTrainingClaim"
    assert release["Resource"] == "${TrainFunctionArn}"
    assert release["Parameters"]["release_claim"] is True
    assert release["Parameters"]["execution"] == {"arn.$": "$.execution.arn"}
    assert release["ResultPath"] == "$.claim_release"
    # A failed release must still report the training's failure, never hide it.
    assert release["Next"] == "ReportTrainFailure"
    assert release["Catch"][-1]["ErrorEquals"] == ["States.ALL"]
    assert release["Catch"][-1]["Next"] == "ReportTrainFailure"


def test_champion_change_evaluates_again() -> None:
    promote = load_definition()["States"]["Promote"]
    first = promote["Catch"][0]

    assert first["ErrorEquals"] == ["ChampionChangedError"]
    assert first["Next"] == "Evaluate"
    assert first["ResultPath"] == "$.promotion_conflict"


def test_choices_default_to_the_safe_branch() -> None:
    states = load_definition()["States"]

    assert states["HasBatch"]["Default"] == "Train"
    assert states["QualityGate"]["Default"] == "NoQualityGateResult"
    assert states["NoQualityGateResult"]["Type"] == "Fail"
    assert states["NoQualityGateResult"]["Error"] == "QualityGateFailed"
    assert states["QualityGateFailed"]["CausePath"] == "$.validation.quality_gate.cause"
    assert states["ChallengerTrained"]["Default"] == "TrainingSkipped"
    assert states["TrainingSkipped"]["Type"] == "Succeed"
    assert states["QualityGateFailed"]["Type"] == "Fail"
    assert states["ChallengerBetter"]["Default"] == "ChampionKept"
    assert states["ChampionKept"]["Type"] == "Succeed"
    assert states["Promote"]["Next"] == "ChallengerPromoted"


def test_task_results_keep_the_pipeline_input() -> None:
    # ResultPath keeps the batch and the earlier steps' results in the state. Without it, a
    # task's result would replace the whole state.
    result_paths = {
        name: state.get("ResultPath") for name, state in _task_states(load_definition()).items()
    }

    assert result_paths == {
        "Validate": "$.validation",
        "Train": "$.training",
        "Evaluate": "$.evaluation",
        "Promote": "$.promotion",
    }
