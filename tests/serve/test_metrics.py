"""EMF metrics: one line per request with latency, count and errors, by route."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from mhpe.serving.reference_house import REFERENCE_HOUSE
from mhpe.storage import ObjectStore
from mhpe.training import TrainingResult

from tests.serve.conftest import MODELS_BUCKET, ServeHarness
from tests.serve.serve_support import publish_champion, sample_houses


def _emf_lines(output: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in output.splitlines() if line.startswith('{"_aws"')]
    return [line for line in lines if "route" in line]


def _metric_names(line: dict[str, Any]) -> set[str]:
    (directive,) = line["_aws"]["CloudWatchMetrics"]
    return {metric["Name"] for metric in directive["Metrics"]}


@pytest.fixture
def harness(
    store: ObjectStore, model_a: TrainingResult, harness_factory: Callable[..., ServeHarness]
) -> ServeHarness:
    publish_champion(store, MODELS_BUCKET, model_a, "1")
    return harness_factory()


def test_prediction_emits_latency_count_and_predictions(
    harness: ServeHarness, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()

    harness.call("POST", "/predict/batch", {"houses": sample_houses(4)})
    (line,) = _emf_lines(capsys.readouterr().out)
    (directive,) = line["_aws"]["CloudWatchMetrics"]

    assert directive["Namespace"] == "MHPE"
    assert directive["Dimensions"] == [["route"]]
    assert line["route"] == "/predict/batch"
    assert line["Requests"] == [1.0]
    assert line["Predictions"] == [4.0]
    assert line["Latency"][0] > 0
    assert _metric_names(line) == {"Requests", "Predictions", "Latency"}


def test_invalid_request_counts_client_error(
    harness: ServeHarness, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()

    harness.call("POST", "/predict", {**REFERENCE_HOUSE, "Gr_Liv_Area": 0})
    (line,) = _emf_lines(capsys.readouterr().out)

    assert line["ClientErrors"] == [1.0]
    assert "Predictions" not in line


def test_missing_model_counts_server_error(
    harness_factory: Callable[..., ServeHarness], capsys: pytest.CaptureFixture[str]
) -> None:
    harness = harness_factory()
    capsys.readouterr()

    harness.call("POST", "/predict", REFERENCE_HOUSE)
    (line,) = _emf_lines(capsys.readouterr().out)

    assert line["ServerErrors"] == [1.0]
    assert line["route"] == "/predict"


def test_model_swap_emits_count(
    store: ObjectStore,
    model_b: TrainingResult,
    harness: ServeHarness,
    capsys: pytest.CaptureFixture[str],
) -> None:
    capsys.readouterr()

    publish_champion(store, MODELS_BUCKET, model_b, "2")
    harness.serving.watcher.refresh()
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "_aws" in line]

    assert [line.get("ModelSwaps") for line in lines if "ModelSwaps" in line] == [[1.0]]
