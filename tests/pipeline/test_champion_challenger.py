"""Train, evaluate and promote on the local cloud with real Ames batches and the MLflow server.

The batches of January to August 2008 are uploaded once. Uploads never train here, because
min_new_rows is above the data, so each test starts forced executions and chooses the ridge
alpha through model.yaml. Alpha 1e7 predicts about the mean price and loses even to the
neighbourhood-median baseline. Alpha 5 beats the baseline, and alpha 300 beats alpha 5 on
the holdout of these months.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import mlflow
import onnxruntime as ort
import pytest
from mhpe.features import onnx_feeds

from tests.pipeline.conftest import PipelineCloud
from tests.pipeline.pipeline_support import corrupt, csv_bytes, month_batch

pytestmark = pytest.mark.integration

MONTHS = [f"2008-{month:02d}" for month in range(1, 9)]
MODEL_NAME = "house-price"
LOSES_TO_BASELINE = 1e7
BEATS_BASELINE = 5
BEATS_ALPHA_5 = 300


@pytest.fixture(scope="module")
def curated_cloud(pipeline_cloud: PipelineCloud) -> Iterator[PipelineCloud]:
    for month in MONTHS:
        pipeline_cloud.upload(f"batches/{month}.csv", csv_bytes(month_batch(month)))
    pipeline_cloud.wait_for_executions(len(MONTHS))
    yield pipeline_cloud


def _forced_run(cloud: PipelineCloud, alpha: float) -> tuple[dict, dict]:
    cloud.set_model_config(grids={"ridge": {"alpha": [alpha]}})
    description = cloud.run_execution(
        {"force": True, "reason": f"test alpha {alpha:g}"}, f"forced-{uuid.uuid4().hex[:12]}"
    )
    output = json.loads(description.get("output") or "{}")
    return description, output


def _champion_version(cloud: PipelineCloud) -> str | None:
    client = mlflow.MlflowClient(tracking_uri=cloud.mlflow_url)
    try:
        return client.get_model_version_by_alias(MODEL_NAME, "champion").version
    except mlflow.exceptions.MlflowException:
        return None


def test_uploads_curate_without_training(curated_cloud: PipelineCloud) -> None:
    executions = curated_cloud.executions()
    curated = curated_cloud.keys("CuratedBucketName", "sales/")

    assert {e["status"] for e in executions} == {"SUCCEEDED"}
    assert len(curated) == len(MONTHS)
    assert _champion_version(curated_cloud) is None


def test_champion_moves_only_for_a_better_challenger(curated_cloud: PipelineCloud) -> None:
    description, output = _forced_run(curated_cloud, LOSES_TO_BASELINE)
    assert description["status"] == "SUCCEEDED"
    assert output["training"]["trained"] is True
    assert output["evaluation"]["compared_with"] == "baseline"
    assert output["evaluation"]["promote"] is False
    assert _champion_version(curated_cloud) is None

    description, output = _forced_run(curated_cloud, BEATS_BASELINE)
    first_champion = output["training"]["model_version"]
    assert description["status"] == "SUCCEEDED"
    assert output["evaluation"]["compared_with"] == "baseline"
    assert output["evaluation"]["promote"] is True
    assert output["promotion"]["model_version"] == first_champion
    assert _champion_version(curated_cloud) == first_champion

    description, output = _forced_run(curated_cloud, LOSES_TO_BASELINE)
    evaluation = output["evaluation"]
    assert evaluation["compared_with"] == "champion"
    assert evaluation["champion"]["model_version"] == first_champion
    assert evaluation["promote"] is False
    assert "promotion" not in output
    assert _champion_version(curated_cloud) == first_champion

    description, output = _forced_run(curated_cloud, BEATS_ALPHA_5)
    evaluation = output["evaluation"]
    assert (
        evaluation["challenger"]["metrics"]["rmse_usd"]
        < (evaluation["champion"]["metrics"]["rmse_usd"])
    )
    assert evaluation["promote"] is True
    assert _champion_version(curated_cloud) == output["training"]["model_version"]


def test_promotion_publishes_onnx_and_manifest(curated_cloud: PipelineCloud) -> None:
    if _champion_version(curated_cloud) is None:
        _forced_run(curated_cloud, BEATS_BASELINE)
    champion = _champion_version(curated_cloud)

    pointer = curated_cloud.read_json("ModelsBucketName", "champion/manifest.json")
    model_key = pointer["onnx"]["key"]
    body = (
        curated_cloud.client("s3")
        .get_object(Bucket=curated_cloud.outputs["ModelsBucketName"], Key=model_key)["Body"]
        .read()
    )
    session = ort.InferenceSession(body, providers=["CPUExecutionProvider"])
    (prices,) = session.run(["price_usd"], onnx_feeds(month_batch("2008-08").head(5)))

    assert pointer["version"] == champion
    assert model_key == f"models/{MODEL_NAME}/v{champion}/model.onnx"
    assert len(pointer["dataset_version"]) == 32
    assert pointer["feature_schema"]
    assert set(pointer["metrics"]) >= {"rmse_usd", "mae_usd", "rmse_log", "mape_pct", "r2"}
    assert pointer["trained_at"]
    assert prices.shape == (5, 1)
    assert (prices > 10_000).all()


def test_training_run_records_lineage_in_mlflow(curated_cloud: PipelineCloud) -> None:
    _, output = _forced_run(curated_cloud, BEATS_BASELINE)
    client = mlflow.MlflowClient(tracking_uri=curated_cloud.mlflow_url)
    run = client.get_run(output["training"]["run_id"])
    version = client.get_model_version(MODEL_NAME, output["training"]["model_version"])
    challenger = client.get_model_version_by_alias(MODEL_NAME, "challenger")

    assert run.data.tags["dataset_version"] == output["training"]["dataset_version"]
    assert run.data.tags["mlflow.source.git.commit"]
    assert run.data.params["model.alpha"] == "5"
    assert run.data.metrics["rmse_log"] > 0
    assert run.data.metrics["eval_challenger_rmse_usd"] > 0
    assert run.data.tags["evaluation.decision"] in {"promote", "keep champion"}
    assert version.run_id == run.info.run_id
    assert challenger.version == version.version


def test_corrupted_batch_fails_gate_and_keeps_champion(curated_cloud: PipelineCloud) -> None:
    if _champion_version(curated_cloud) is None:
        _forced_run(curated_cloud, BEATS_BASELINE)
    champion_before = _champion_version(curated_cloud)
    pointer_before = curated_cloud.read_json("ModelsBucketName", "champion/manifest.json")
    batch, corrupted_rows = corrupt(month_batch("2008-09"), share=0.10)
    key = "batches/2008-09.csv"
    started = len(curated_cloud.executions())

    version_id = curated_cloud.upload(key, csv_bytes(batch))
    curated_cloud.wait_for_executions(started + 1)
    (execution,) = [e for e in curated_cloud.executions() if e["name"].startswith("2008-09-csv")]
    description = curated_cloud.wait_for_execution(execution["executionArn"])
    prefix = f"validate/{key}/{version_id}/"
    report = curated_cloud.read_json("QuarantineBucketName", prefix + "report.json")

    assert description["status"] == "FAILED"
    assert description["error"] == "QualityGateFailed"
    assert report["message"] in description["cause"]
    assert "below the 95 % quality gate" in description["cause"]
    assert f"{prefix}report.json" in description["cause"]
    assert prefix + "2008-09.csv" in curated_cloud.keys("QuarantineBucketName", prefix)
    assert report["passed"] is False
    assert report["total_rows"] - report["valid_rows"] == corrupted_rows
    assert report["rule_rejections"]["Gr_Liv_Area_range"] > 0
    assert report["rule_rejections"]["Sale_Price_present"] > 0
    assert "below the 95 % quality gate" in report["message"]
    assert not curated_cloud.keys("CuratedBucketName", "sales/sale_month=2008-09/")
    assert _champion_version(curated_cloud) == champion_before
    pointer_after = curated_cloud.read_json("ModelsBucketName", "champion/manifest.json")
    assert pointer_after == pointer_before
