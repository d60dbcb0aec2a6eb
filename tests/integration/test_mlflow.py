"""The MLflow tracking server and registry that start with the local cloud."""

from __future__ import annotations

import pytest

from tests.integration.conftest import Cloud

pytestmark = pytest.mark.integration


def test_mlflow_stores_run_and_artifact_in_local_s3(cloud: Cloud, tmp_path, monkeypatch) -> None:
    import mlflow
    from mlflow import MlflowClient

    monkeypatch.setenv("MLFLOW_TRACKING_URI", cloud.mlflow_url)
    artifact = tmp_path / "note.txt"
    artifact.write_text("artifact body")

    mlflow.set_experiment("itest-experiment")
    with mlflow.start_run() as run:
        mlflow.log_param("alpha", 0.5)
        mlflow.log_metric("rmse", 0.12)
        mlflow.log_artifact(str(artifact))
    client = MlflowClient(cloud.mlflow_url)
    model = client.create_registered_model("itest-model")

    stored = client.get_run(run.info.run_id)
    assert stored.data.params["alpha"] == "0.5"
    assert stored.data.metrics["rmse"] == 0.12
    assert model.name == "itest-model"
    keys = [
        item["Key"]
        for item in cloud.client("s3").list_objects_v2(Bucket="mhpe-mlflow-artifacts")["Contents"]
    ]
    assert any(key.endswith(f"{run.info.run_id}/artifacts/note.txt") for key in keys)
    assert (cloud.state_dir / "mlflow" / "mlflow.db").exists()
