"""The training pipeline's ASL: the Train Catch path and the QualityGateFailed cause."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

ASL = Path(__file__).resolve().parents[3] / "statemachines" / "training_pipeline.asl.json"


@pytest.fixture(scope="module")
def states() -> dict[str, Any]:
    return json.loads(ASL.read_text())["States"]


def test_train_failure_releases_claim_first(states: dict[str, Any]) -> None:
    (catch,) = states["Train"]["Catch"]
    release = states["ReleaseTrainingClaim"]

    assert catch["ErrorEquals"] == ["States.ALL"]
    assert catch["Next"] == "ReleaseTrainingClaim"
    assert release["Resource"] == "${TrainFunctionArn}"
    assert release["Parameters"] == {
        "release_claim": True,
        "execution": {"arn.$": "$.execution.arn"},
    }
    assert release["ResultPath"] == "$.claim_release"
    assert release["Next"] == "ReportTrainFailure"
    assert release["Catch"][0]["Next"] == "ReportTrainFailure"


def test_quality_gate_cause_comes_from_batch(states: dict[str, Any]) -> None:
    choices = states["QualityGate"]["Choices"]

    assert choices[1] == {
        "Variable": "$.validation.quality_gate.cause",
        "IsPresent": True,
        "Next": "QualityGateFailed",
    }
    assert states["QualityGateFailed"]["CausePath"] == "$.validation.quality_gate.cause"
    assert "Cause" not in states["QualityGateFailed"]
    assert states["QualityGate"]["Default"] == "NoQualityGateResult"
    assert states["NoQualityGateResult"]["Error"] == "QualityGateFailed"


def test_every_next_names_a_state(states: dict[str, Any]) -> None:
    targets = []
    for state in states.values():
        targets.append(state.get("Next"))
        targets.append(state.get("Default"))
        targets += [choice.get("Next") for choice in state.get("Choices", [])]
        targets += [catch["Next"] for catch in state.get("Catch", [])]

    assert {target for target in targets if target} <= set(states)
