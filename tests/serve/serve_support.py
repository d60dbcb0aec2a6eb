"""Models trained on real Ames sales and published as the promote step publishes them.

`train_ridge` fits the ridge strategy on the committed sample (tests/data/ames_sample.csv)
in about a second. `publish_champion` writes the ONNX file, its manifest and the champion
pointer in `mhpe.pipeline.promote`'s layout, with promote's own `build_manifest`, so the
serve tests need neither MLflow nor a pipeline run.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pandas as pd
from mhpe.data import read_batch
from mhpe.features import onnx_feeds
from mhpe.pipeline.promote import (
    CHAMPION_POINTER_KEY,
    MANIFEST_FILE,
    MODEL_FILE,
    ONNX_CONTENT_TYPE,
    build_manifest,
    model_prefix,
)
from mhpe.schema import House
from mhpe.storage import ObjectStore
from mhpe.training import ModelConfig, TrainingResult, train
from pydantic import ValidationError

REPOSITORY = Path(__file__).resolve().parents[2]
SAMPLE_PATH = REPOSITORY / "tests" / "data" / "ames_sample.csv"
MODEL_NAME = "house-price"
# Two ridge penalties whose prices differ by thousands of dollars for every sample house,
# so a response shows which of the two models priced it.
ALPHA_A = 1.0
ALPHA_B = 300.0


def small_config(alpha: float) -> ModelConfig:
    return ModelConfig.from_mapping(
        {
            "strategy": "ridge",
            "holdout_months": 3,
            "cv_folds": 2,
            "max_living_area_sqft": 4000,
            "parity_tolerance": 1.0e-4,
            "n_jobs": 1,
            "grids": {"ridge": {"alpha": [alpha]}},
        }
    )


@cache
def sample_sales() -> pd.DataFrame:
    return read_batch(SAMPLE_PATH.read_bytes(), name="ames_sample.csv")


@cache
def _valid_sample_houses() -> tuple[dict[str, Any], ...]:
    frame = sample_sales()[list(House.model_fields)].astype(object)
    frame = frame.where(pd.notna(frame), None)
    houses = []
    for house in frame.to_dict(orient="records"):
        # A few real sales break the schema (a remodel year before the build year), and the
        # API rightly rejects them.
        try:
            House.model_validate(house)
        except ValidationError:
            continue
        houses.append(house)
    return tuple(houses)


def sample_houses(count: int | None = None) -> list[dict[str, Any]]:
    """Return sample sales that the schema accepts, as request houses: House fields only."""
    houses = _valid_sample_houses()
    return [dict(house) for house in (houses if count is None else houses[:count])]


@cache
def train_ridge(alpha: float) -> TrainingResult:
    return train(sample_sales(), small_config(alpha))


@dataclass(frozen=True)
class PublishedModel:
    """A model published to a models bucket, with a local session to compute its prices."""

    version: str
    onnx_bytes: bytes
    manifest: dict[str, Any]

    def prices(self, houses: list[dict[str, Any]]) -> list[float]:
        """Price houses with onnxruntime directly, as the reference for the API's responses."""
        session = ort.InferenceSession(self.onnx_bytes, providers=["CPUExecutionProvider"])
        frame = pd.DataFrame(houses)
        # During training, pandas casts a missing category (NaN) to the string "nan".
        frame = frame.where(frame.notna(), np.nan)
        (prices,) = session.run(["price_usd"], onnx_feeds(frame))
        return [round(float(price), 2) for price in prices.reshape(-1)]


def publish_champion(
    store: ObjectStore,
    bucket: str,
    result: TrainingResult,
    version: str,
    *,
    replaced_version: str | None = None,
    onnx_bytes: bytes | None = None,
) -> PublishedModel:
    """Write the model, its manifest and the champion pointer as promote does.

    `onnx_bytes` replaces the trained model's bytes while the manifest keeps the trained
    model's SHA-256, to publish a corrupt file.
    """
    prefix = model_prefix(MODEL_NAME, version)
    body = result.onnx_bytes if onnx_bytes is None else onnx_bytes
    model_location = store.create(bucket, prefix + MODEL_FILE, body, content_type=ONNX_CONTENT_TYPE)
    training = {
        "model_name": MODEL_NAME,
        "model_version": version,
        "run_id": uuid.uuid4().hex,
        "strategy": result.strategy,
        "params": result.params,
        "metrics": result.metrics,
        "baseline_metrics": result.baseline_metrics,
        "dataset_version": uuid.uuid4().hex,
        "training_rows": result.training_rows,
        "training_months": list(result.training_months),
        "holdout_months": list(result.holdout_months),
        "feature_schema": result.feature_schema,
        "trained_at": datetime.now(UTC).isoformat(),
        "git_commit": "unknown",
    }
    evaluation = {
        "metric": "rmse_usd",
        "compared_with": "baseline",
        "reason": "test publication",
        "holdout_rows": 10,
        "challenger": {"metrics": result.metrics},
        "champion": None,
    }
    manifest = build_manifest(training, evaluation, result.onnx_bytes, model_location)
    manifest_location = store.create(
        bucket,
        prefix + MANIFEST_FILE,
        json.dumps(manifest).encode(),
        content_type="application/json",
    )
    pointer = {
        **manifest,
        "manifest": manifest_location.to_dict(),
        "promoted_at": datetime.now(UTC).isoformat(),
        "replaced_version": replaced_version,
        "execution_arn": "arn:aws:states:us-east-1:123456789012:execution:test:run",
    }
    latest = store.read_latest(bucket, CHAMPION_POINTER_KEY)
    store.replace(
        bucket,
        CHAMPION_POINTER_KEY,
        json.dumps(pointer).encode(),
        expected_etag=latest.etag if latest else None,
    )
    return PublishedModel(version, body, pointer)


def errors_by_field(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Index a 422 body's errors by their field path."""
    return {error["field"]: error for error in body["errors"]}
