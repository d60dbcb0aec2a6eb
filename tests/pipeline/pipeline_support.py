"""Real Ames batches and S3 events for the pipeline's tests."""

from __future__ import annotations

import io
import json
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from mhpe.data import load_ames, snapshot_bytes

STACK_RECORD = Path("stacks") / "mhpe.json"


@cache
def ames_sales() -> pd.DataFrame:
    return load_ames()


def month_batch(month: str) -> pd.DataFrame:
    """Return the real sales of one month ("YYYY-MM") without the sale_month column."""
    sales = ames_sales()
    batch = sales[sales["sale_month"] == month].drop(columns="sale_month")
    return batch.reset_index(drop=True)


def csv_bytes(batch: pd.DataFrame) -> bytes:
    return snapshot_bytes(batch)


def parquet_bytes(batch: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    batch.to_parquet(buffer, index=False)
    return buffer.getvalue()


def corrupt(batch: pd.DataFrame, share: float, seed: int = 0) -> tuple[pd.DataFrame, int]:
    """Corrupt `share` of the rows: half get a negative living area, half lose their price.

    Returns the corrupted copy and the number of corrupted rows.
    """
    corrupted = batch.copy()
    rows = np.random.default_rng(seed).choice(
        len(batch), size=int(np.ceil(share * len(batch))), replace=False
    )
    half = len(rows) // 2
    corrupted.loc[rows[:half], "Gr_Liv_Area"] = -corrupted.loc[rows[:half], "Gr_Liv_Area"]
    corrupted.loc[rows[half:], "Sale_Price"] = np.nan
    return corrupted, len(rows)


def s3_put_event(bucket: str, key: str, version_id: str | None, size: int) -> dict[str, Any]:
    """Build the S3 ObjectCreated:Put notification that S3 sends for one upload."""
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventTime": "2024-05-06T09:14:03.512Z",
                "eventName": "ObjectCreated:Put",
                "responseElements": {"x-amz-request-id": "TESTREQUEST0001"},
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "test",
                    "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                    "object": {"key": key, "size": size, "versionId": version_id},
                },
            }
        ]
    }


def function_name(state_dir: Path, logical_id: str) -> str:
    record = json.loads((state_dir / STACK_RECORD).read_text())
    return record["resources"][logical_id]["PhysicalResourceId"]
