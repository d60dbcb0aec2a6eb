"""The reference of the drift check: the champion and the training snapshot it was trained on.

Promotion writes the champion's manifest to `champion/manifest.json` in the models bucket.
The manifest records the dataset version, which is the md5 of the snapshot that training
stored at `datasets/{version}.csv` in the same bucket.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from dataclasses import dataclass
from typing import Any

import pandas as pd

from mhpe.data import CSV_MISSING_MARKERS, SALE_MONTH_COLUMN
from mhpe.drift.errors import DriftReferenceError
from mhpe.pipeline.promote import CHAMPION_POINTER_KEY
from mhpe.pipeline.train import DATASETS_PREFIX
from mhpe.storage import ObjectLocation, ObjectMissingError, ObjectStore

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChampionReference:
    """The champion's identity, holdout metrics and ONNX file, and its training snapshot."""

    model_name: str
    model_version: str
    dataset_version: str
    holdout_metrics: dict[str, float]
    onnx: ObjectLocation
    sales: pd.DataFrame

    @property
    def last_month(self) -> str:
        """Return the latest sale month ("YYYY-MM") in the snapshot."""
        return str(self.sales[SALE_MONTH_COLUMN].max())

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_name": self.model_name,
            "model_version": self.model_version,
            "dataset_version": self.dataset_version,
            "rows": len(self.sales),
            "last_month": self.last_month,
            "holdout_metrics": self.holdout_metrics,
        }


def snapshot_key(dataset_version: str) -> str:
    return f"{DATASETS_PREFIX}{dataset_version}.csv"


def load_champion_reference(store: ObjectStore, models_bucket: str) -> ChampionReference | None:
    """Read the champion pointer and its training snapshot; None when nothing is promoted.

    Raises DriftReferenceError when the pointer lacks a field, the snapshot is missing, or the
    snapshot's md5 differs from the recorded dataset version.
    """
    pointer = store.read_latest(models_bucket, CHAMPION_POINTER_KEY)
    if pointer is None:
        logger.info("no champion at s3://%s/%s", models_bucket, CHAMPION_POINTER_KEY)
        return None
    manifest = json.loads(pointer.body)
    pointer_uri = f"s3://{models_bucket}/{CHAMPION_POINTER_KEY}"
    missing = [
        key
        for key in ("model_name", "version", "dataset_version", "metrics", "onnx")
        if key not in manifest
    ]
    if missing:
        raise DriftReferenceError(f"champion manifest {pointer_uri} lacks {missing}")

    version = str(manifest["dataset_version"])
    location = ObjectLocation(models_bucket, snapshot_key(version))
    try:
        body = store.read(location)
    except ObjectMissingError as error:
        raise DriftReferenceError(
            f"training snapshot {location.uri} of champion version {manifest['version']} "
            "is missing; retrain to record a new one"
        ) from error
    digest = hashlib.md5(body).hexdigest()
    if digest != version:
        raise DriftReferenceError(
            f"training snapshot {location.uri} has md5 {digest}, but the champion records "
            f"dataset version {version}"
        )

    sales = pd.read_csv(
        io.BytesIO(body), keep_default_na=False, na_values=list(CSV_MISSING_MARKERS)
    )
    if SALE_MONTH_COLUMN not in sales.columns:
        raise DriftReferenceError(
            f"training snapshot {location.uri} has no {SALE_MONTH_COLUMN} column"
        )
    sales[SALE_MONTH_COLUMN] = sales[SALE_MONTH_COLUMN].astype(str)
    onnx = manifest["onnx"]
    reference = ChampionReference(
        model_name=str(manifest["model_name"]),
        model_version=str(manifest["version"]),
        dataset_version=version,
        holdout_metrics={name: float(value) for name, value in manifest["metrics"].items()},
        onnx=ObjectLocation(str(onnx["bucket"]), str(onnx["key"]), onnx.get("version_id")),
        sales=sales,
    )
    logger.info(
        "reference: champion %s version %s, dataset %s (%d sales up to %s)",
        reference.model_name,
        reference.model_version,
        version,
        len(sales),
        reference.last_month,
    )
    return reference
