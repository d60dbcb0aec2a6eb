"""Validate: a passing batch is curated by sale month, a failing one is quarantined."""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from mhpe.config import load_quality_rules
from mhpe.data import snapshot_bytes
from mhpe.pipeline.curated import load_curated_sales
from mhpe.pipeline.errors import PipelineInputError
from mhpe.pipeline.state import BatchRef
from mhpe.pipeline.validate import validate_batch
from mhpe.storage import ObjectStore


def _upload(s3: Any, key: str, batch: pd.DataFrame, sequencer: str = "0A") -> BatchRef:
    version = s3.put_object(Bucket="raw", Key=key, Body=snapshot_bytes(batch))["VersionId"]
    return BatchRef(bucket="raw", key=key, version_id=version, sequencer=sequencer)


def _validate(store: ObjectStore, batch: BatchRef) -> dict[str, Any]:
    return validate_batch(
        batch,
        store=store,
        rules=load_quality_rules(),
        curated_bucket="curated",
        quarantine_bucket="quarantine",
    )


def _corrupt(sales: pd.DataFrame, rows: int) -> pd.DataFrame:
    corrupted = sales.copy()
    chosen = np.random.default_rng(0).choice(len(sales), size=rows, replace=False)
    corrupted.loc[chosen[: rows // 2], "Gr_Liv_Area"] = -1.0
    corrupted.loc[chosen[rows // 2 :], "Sale_Price"] = np.nan
    return corrupted


def test_passing_batch_is_curated_by_month(
    s3: Any, store: ObjectStore, sample_sales: pd.DataFrame
) -> None:
    batch = _upload(s3, "batches/sample.csv", sample_sales)

    result = _validate(store, batch)

    curated = load_curated_sales(store, "curated")
    months = (
        sample_sales["Year_Sold"].astype(str)
        + "-"
        + sample_sales["Mo_Sold"].astype(int).map("{:02d}".format)
    )
    assert result["quality_gate"]["passed"] is True
    assert result["curated"]["rows"] == result["quality_gate"]["valid_rows"]
    assert len(result["curated"]["keys"]) == months.nunique()
    assert all("/batch=batches%2Fsample.csv/" in key for key in curated.objects)
    assert all(key.endswith(f"_{batch.version_id}.parquet") for key in curated.objects)
    assert len(curated.sales) == result["curated"]["rows"]
    assert sorted(curated.sales["sale_month"].unique()) == sorted(months.unique())
    assert store.list("quarantine", "") == []


def test_failing_batch_is_quarantined_with_report(
    s3: Any, store: ObjectStore, sample_sales: pd.DataFrame
) -> None:
    corrupted_rows = 30
    batch = _upload(s3, "batches/bad.csv", _corrupt(sample_sales, corrupted_rows))

    result = _validate(store, batch)

    prefix = f"validate/batches/bad.csv/{batch.version_id}/"
    report = json.loads(store.read_latest("quarantine", prefix + "report.json").body)
    gate = result["quality_gate"]
    assert gate["passed"] is False
    assert gate["rule_rejections"]["Gr_Liv_Area_range"] == corrupted_rows // 2
    assert gate["rule_rejections"]["Sale_Price_present"] == corrupted_rows - corrupted_rows // 2
    assert report["total_rows"] - report["valid_rows"] >= corrupted_rows
    assert len(report["rows"]) == report["total_rows"] - report["valid_rows"]
    assert store.read_latest("quarantine", prefix + "bad.csv") is not None
    assert store.list("curated", "sales/") == []


def test_validate_retry_writes_nothing_new(
    s3: Any, store: ObjectStore, sample_sales: pd.DataFrame
) -> None:
    batch = _upload(s3, "batches/sample.csv", sample_sales)

    first = _validate(store, batch)
    second = _validate(store, batch)

    assert second["curated"]["keys"] == first["curated"]["keys"]
    for key in first["curated"]["keys"]:
        versions = s3.list_object_versions(Bucket="curated", Prefix=key)["Versions"]
        assert len(versions) == 1, key


def test_new_version_of_batch_replaces_old_rows(
    s3: Any, store: ObjectStore, sample_sales: pd.DataFrame
) -> None:
    one_month = sample_sales[(sample_sales["Year_Sold"] == 2008) & (sample_sales["Mo_Sold"] == 6)]
    assert len(one_month) > 2
    # Both are written in the same second, so only S3's sequencer orders the uploads.
    _validate(store, _upload(s3, "batches/2008-06.csv", one_month, sequencer="9F"))
    _validate(store, _upload(s3, "batches/2008-06.csv", one_month.head(2), sequencer="1A0"))

    curated = load_curated_sales(store, "curated")

    assert len(store.list("curated", "sales/")) == 2
    assert len(curated.sales) == 2


def test_curated_parquet_keeps_sale_columns(
    s3: Any, store: ObjectStore, sample_sales: pd.DataFrame
) -> None:
    result = _validate(store, _upload(s3, "batches/sample.csv", sample_sales))

    body = s3.get_object(Bucket="curated", Key=result["curated"]["keys"][0])["Body"].read()
    frame = pd.read_parquet(io.BytesIO(body))
    assert list(frame.columns) == list(sample_sales.columns)


@pytest.mark.parametrize("key", ["batches/empty.csv"])
def test_unreadable_batch_fails_gate(s3: Any, store: ObjectStore, key: str) -> None:
    version = s3.put_object(Bucket="raw", Key=key, Body=b"")["VersionId"]

    result = _validate(store, BatchRef(bucket="raw", key=key, version_id=version))

    assert result["quality_gate"]["passed"] is False
    assert "empty" in result["quality_gate"]["message"]


def test_hand_started_batch_reuses_curated_keys(
    s3: Any, store: ObjectStore, sample_sales: pd.DataFrame
) -> None:
    notified = _upload(s3, "batches/sample.csv", sample_sales, sequencer="0066389F1B7A2C4E5D")
    first = _validate(store, notified)
    # A hand-started execution names the version but carries no etag, size or sequencer.
    by_hand = BatchRef(bucket="raw", key="batches/sample.csv", version_id=notified.version_id)

    second = _validate(store, by_hand)

    assert second["curated"]["keys"] == first["curated"]["keys"]
    assert second["curated"]["report"]["key"] == first["curated"]["report"]["key"]
    assert len(load_curated_sales(store, "curated").sales) == first["curated"]["rows"]


def test_batch_without_version_reads_latest(
    s3: Any, store: ObjectStore, sample_sales: pd.DataFrame
) -> None:
    notified = _upload(s3, "batches/sample.csv", sample_sales, sequencer="0A")
    first = _validate(store, notified)

    result = _validate(store, BatchRef(bucket="raw", key="batches/sample.csv"))

    assert result["quality_gate"]["passed"] is True
    assert len(load_curated_sales(store, "curated").sales) == first["curated"]["rows"]


def test_changed_batch_fields_raise_clear_error(
    s3: Any, store: ObjectStore, sample_sales: pd.DataFrame
) -> None:
    notified = _upload(s3, "batches/sample.csv", sample_sales)
    _validate(store, notified.model_copy(update={"etag": "0" * 32}))

    with pytest.raises(PipelineInputError, match="was validated before") as raised:
        _validate(store, notified.model_copy(update={"etag": "1" * 32}))

    assert "batches/sample.csv" in str(raised.value)
    assert "ingest-started execution" in str(raised.value)


def test_gate_failure_cause_names_numbers(
    s3: Any, store: ObjectStore, sample_sales: pd.DataFrame
) -> None:
    batch = _upload(s3, "batches/bad.csv", _corrupt(sample_sales, 30))

    cause = _validate(store, batch)["quality_gate"]["cause"]

    share = _validate(store, batch)["quality_gate"]["valid_share"]
    assert "batch batches/bad.csv rejected" in cause
    assert f"{int(share * 1000) / 10:.1f} % valid rows" in cause
    assert "below the 95 % quality gate" in cause
    assert f"s3://quarantine/validate/batches/bad.csv/{batch.version_id}/report.json" in cause


def test_unreadable_batch_cause_names_problem(s3: Any, store: ObjectStore) -> None:
    version = s3.put_object(Bucket="raw", Key="batches/empty.csv", Body=b"")["VersionId"]
    batch = BatchRef(bucket="raw", key="batches/empty.csv", version_id=version)

    gate = _validate(store, batch)["quality_gate"]

    assert gate["passed"] is False
    assert "batch batches/empty.csv is invalid: the file is empty" in gate["cause"]
    assert "s3://quarantine/validate/batches/empty.csv/" in gate["cause"]


def test_same_sales_under_two_keys_count_once(
    s3: Any, store: ObjectStore, sample_sales: pd.DataFrame
) -> None:
    first = _validate(store, _upload(s3, "batches/2008-07.csv", sample_sales, sequencer="0A"))
    _validate(store, _upload(s3, "batches/test/2008-07 copy.csv", sample_sales, sequencer="0B"))

    curated = load_curated_sales(store, "curated")

    assert len(curated.sales) == first["curated"]["rows"]
    assert not curated.sales.drop(columns="sale_month").duplicated().any()
