"""Real data and a real champion for the drift tests: Ames, Saratoga, and a trained ridge.

`publish_champion` writes what the training pipeline leaves behind for a champion (the
training snapshot under datasets/, the ONNX file, and champion/manifest.json) to a models
bucket, so the drift check reads the same layout as after a real promotion.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
from mhpe.data import dataset_version, load_ames, snapshot_bytes
from mhpe.markets import load_saratoga
from mhpe.schema import SALE_COLUMNS
from mhpe.storage import ObjectStore

REPOSITORY = Path(__file__).resolve().parents[2]
SMALL_MODEL_CONFIG = REPOSITORY / "tests" / "pipeline" / "fixtures" / "config" / "model.yaml"
AUDIT_PREFIX = "audit/predictions/"


@cache
def ames_sales() -> pd.DataFrame:
    return load_ames()


def ames_between(first_month: str, last_month: str) -> pd.DataFrame:
    sales = ames_sales()
    chosen = sales[(sales["sale_month"] >= first_month) & (sales["sale_month"] <= last_month)]
    return chosen.reset_index(drop=True)


@cache
def saratoga_sales() -> pd.DataFrame:
    return load_saratoga().sales


@cache
def trained_champion() -> tuple[pd.DataFrame, Any]:
    """Train the pipeline tests' small ridge on the Ames sales of January to August 2008."""
    from mhpe.training import load_model_config, train

    sales = ames_between("2008-01", "2008-08")
    config = load_model_config(SMALL_MODEL_CONFIG)
    return sales, train(sales, config, "ridge")


def publish_champion(store: ObjectStore, models_bucket: str) -> dict[str, Any]:
    """Write the trained champion as promotion does; return the pointer it wrote."""
    sales, result = trained_champion()
    version = dataset_version(sales)
    store.create(models_bucket, f"datasets/{version}.csv", snapshot_bytes(sales))
    model = store.create(models_bucket, "models/house-price/v1/model.onnx", result.onnx_bytes)
    pointer = {
        "model_name": "house-price",
        "version": "1",
        "dataset_version": version,
        "metrics": result.metrics,
        "training_months": list(result.training_months),
        "holdout_months": list(result.holdout_months),
        "onnx": {"bucket": model.bucket, "key": model.key, "version_id": model.version_id},
    }
    store.replace(
        models_bucket,
        "champion/manifest.json",
        json.dumps(pointer).encode(),
        expected_etag=None,
    )
    return pointer


def houses(sales: pd.DataFrame) -> list[dict[str, Any]]:
    """Return sales as API inputs: the House fields, missing values as None."""
    fields = [column for column in SALE_COLUMNS if column != "Sale_Price"]
    frame = sales[fields].astype(object)
    return frame.where(frame.notna(), None).to_dict(orient="records")


def audit_lines(inputs: list[dict[str, Any]], at: datetime) -> bytes:
    """Serialise audit records as the serve function ships them, one JSON object per line."""
    records = [
        {
            "schema_version": 1,
            "request_id": f"request-{item}",
            "item": 0,
            "time": at.isoformat(),
            "route": "/predict",
            "model_name": "house-price",
            "model_version": "1",
            "input": house,
            "prediction": {"price_usd": 180000.0},
        }
        for item, house in enumerate(inputs)
    ]
    return ("\n".join(json.dumps(record, default=float) for record in records) + "\n").encode()


def ship_audit(store: ObjectStore, bucket: str, inputs: list[dict[str, Any]], at: datetime) -> str:
    key = f"{AUDIT_PREFIX}dt={at:%Y-%m-%d}/{at:%H%M%S%f}-test-000001.jsonl"
    store.create(bucket, key, audit_lines(inputs, at))
    return key
