"""The train step's decisions and outputs, with a recording registry in place of MLflow.

tests/pipeline runs the same step against the local cloud's MLflow server.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from mhpe.config import load_quality_rules
from mhpe.data import snapshot_bytes
from mhpe.pipeline.ledger import LEDGER_KEY, claim_training, claimed_rows
from mhpe.pipeline.settings import PipelineResources, PipelineSettings
from mhpe.pipeline.state import BatchRef, ClaimRelease, PipelineState
from mhpe.pipeline.train import run_release_step, run_train_step
from mhpe.pipeline.validate import validate_batch
from mhpe.registry import ModelVersionInfo
from mhpe.storage import ObjectStore

RESOURCES = PipelineResources(
    raw_bucket="raw",
    curated_bucket="curated",
    quarantine_bucket="quarantine",
    models_bucket="models",
    reports_bucket="reports",
    training_pipeline_arn=None,
    git_commit="0123456789abcdef",
)
MODEL_CONFIG = {
    "strategy": "ridge",
    "holdout_months": 3,
    "cv_folds": 2,
    "grids": {"ridge": {"alpha": [5]}},
}


class RecordingRegistry:
    """Stores what the train step registers, as ModelRegistry would in MLflow."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.logged: list[dict[str, Any]] = []
        self.aliases: dict[str, str] = {}

    def log_training(self, result: Any, **details: Any) -> ModelVersionInfo:
        if self.fail:
            raise RuntimeError("tracking server unavailable")
        self.logged.append({"result": result, **details})
        version = str(len(self.logged))
        return ModelVersionInfo("house-price", version, f"run{version}", f"models:/m-{version}")

    def set_alias(self, alias: str, version: str) -> None:
        self.aliases[alias] = version


@pytest.fixture
def model_config_file(tmp_path: Path) -> Path:
    path = tmp_path / "model.yaml"
    path.write_text(yaml.safe_dump(MODEL_CONFIG))
    return path


def _settings(min_new_rows: int) -> PipelineSettings:
    return PipelineSettings(
        model_name="house-price",
        experiment_name="tests",
        min_new_rows=min_new_rows,
        strategy=None,
        promotion_metric="rmse_usd",
    )


def _curate(s3: Any, store: ObjectStore, sales: pd.DataFrame) -> None:
    version = s3.put_object(Bucket="raw", Key="batches/s.csv", Body=snapshot_bytes(sales))
    batch = BatchRef(bucket="raw", key="batches/s.csv", version_id=version["VersionId"])
    validate_batch(
        batch,
        store=store,
        rules=load_quality_rules(),
        curated_bucket="curated",
        quarantine_bucket="quarantine",
    )


def _train(
    store: ObjectStore,
    config: Path,
    registry: RecordingRegistry,
    *,
    min_new_rows: int = 100,
    force: bool = False,
) -> dict[str, Any]:
    return run_train_step(
        PipelineState(force=force, execution={"arn": "arn:aws:states:x:execution:p:e1"}),
        settings=_settings(min_new_rows),
        resources=RESOURCES,
        store=store,
        model_config_file=config,
        registry_factory=lambda settings: registry,  # type: ignore[arg-type,return-value]
    )


def test_train_skips_empty_curated_bucket(store: ObjectStore, model_config_file: Path) -> None:
    result = _train(store, model_config_file, RecordingRegistry(), force=True)

    assert result["trained"] is False
    assert "no sales" in result["reason"]


def test_train_waits_for_new_rows(
    s3: Any, store: ObjectStore, model_config_file: Path, sample_sales: pd.DataFrame
) -> None:
    _curate(s3, store, sample_sales)
    registry = RecordingRegistry()

    result = _train(store, model_config_file, registry, min_new_rows=10_000)

    assert result["trained"] is False
    assert "below min_new_rows 10000" in result["reason"]
    assert registry.logged == []


def test_train_needs_enough_months(
    s3: Any, store: ObjectStore, model_config_file: Path, sample_sales: pd.DataFrame
) -> None:
    months = sample_sales["Year_Sold"] * 100 + sample_sales["Mo_Sold"]
    _curate(s3, store, sample_sales[months.isin(sorted(months.unique())[:4])])

    result = _train(store, model_config_file, RecordingRegistry(), force=True)

    assert result["trained"] is False
    assert "span 4 months" in result["reason"]
    assert claimed_rows(store, "models") == 0


def test_train_registers_challenger(
    s3: Any, store: ObjectStore, model_config_file: Path, sample_sales: pd.DataFrame
) -> None:
    _curate(s3, store, sample_sales)
    registry = RecordingRegistry()

    result = _train(store, model_config_file, registry)

    snapshot = store.read_latest("models", result["dataset_snapshot"]["key"])
    holdout = pd.read_parquet(
        io.BytesIO(store.read_latest("models", result["holdout"]["key"]).body)
    )
    (logged,) = registry.logged
    assert result["trained"] is True
    assert result["model_version"] == "1"
    assert registry.aliases == {"challenger": "1"}
    assert hashlib.md5(snapshot.body).hexdigest() == result["dataset_version"]
    assert logged["dataset_version"] == result["dataset_version"]
    assert logged["git_commit"] == "0123456789abcdef"
    assert len(holdout) == result["holdout_rows"]
    assert holdout["sale_month"].max() == result["holdout_months"][1]
    assert holdout["baseline_price_usd"].gt(0).all()
    assert claimed_rows(store, "models") == result["decision"]["curated_rows"]
    json.dumps(result)


def test_failed_training_releases_claim(
    s3: Any, store: ObjectStore, model_config_file: Path, sample_sales: pd.DataFrame
) -> None:
    _curate(s3, store, sample_sales)

    with pytest.raises(RuntimeError, match="tracking server unavailable"):
        _train(store, model_config_file, RecordingRegistry(fail=True))

    assert claimed_rows(store, "models") == 0


def test_finished_training_completes_claim(
    s3: Any, store: ObjectStore, model_config_file: Path, sample_sales: pd.DataFrame
) -> None:
    _curate(s3, store, sample_sales)

    result = _train(store, model_config_file, RecordingRegistry())

    ledger = json.loads(store.read_latest("models", LEDGER_KEY).body)
    assert ledger["trained_rows"] == result["decision"]["curated_rows"]
    assert ledger["trained_by"] == "arn:aws:states:x:execution:p:e1"
    assert ledger["claims"] == []


def test_release_step_frees_killed_training(
    s3: Any, store: ObjectStore, model_config_file: Path, sample_sales: pd.DataFrame
) -> None:
    _curate(s3, store, sample_sales)
    killed = "arn:aws:states:x:execution:p:killed"
    # A train function killed after its claim leaves the claim behind.
    claim_training(
        store, "models", curated_rows=len(sample_sales), min_new_rows=1, force=False,
        execution_arn=killed,
    )  # fmt: skip
    blocked = _train(store, model_config_file, RecordingRegistry())

    released = run_release_step(
        ClaimRelease(release_claim=True, execution={"arn": killed}),
        resources=RESOURCES,
        store=store,
    )
    retried = _train(store, model_config_file, RecordingRegistry())

    assert blocked["trained"] is False
    assert released["released"] is True
    assert retried["trained"] is True
    assert retried["decision"]["claimed_rows_before"] == 0
