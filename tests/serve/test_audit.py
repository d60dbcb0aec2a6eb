"""Audit records: one per prediction, in the function log, a rotating file and S3."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mhpe.serving.audit import AuditTrail, RequestInfo, build_records
from mhpe.serving.audit_shipper import AUDIT_PREFIX, AuditShipper
from mhpe.serving.reference_house import REFERENCE_HOUSE
from mhpe.storage import ObjectStore
from mhpe.training import TrainingResult

from tests.serve.conftest import MODELS_BUCKET, PREDICT_EVENT, REPORTS_BUCKET, ServeHarness
from tests.serve.serve_support import publish_champion, sample_houses

API_KEY = PREDICT_EVENT["requestContext"]["identity"]["apiKey"]
API_KEY_ID = PREDICT_EVENT["requestContext"]["identity"]["apiKeyId"]
SHIP_TIMEOUT_S = 20.0


@pytest.fixture
def harness(
    store: ObjectStore, model_a: TrainingResult, harness_factory: Callable[..., ServeHarness]
) -> ServeHarness:
    publish_champion(store, MODELS_BUCKET, model_a, "1")
    return harness_factory()


def _audit_log_records(harness: ServeHarness) -> list[dict[str, Any]]:
    return [
        record["audit"]
        for record in harness.log_records()
        if record.get("message") == "prediction audit"
    ]


def _file_records(harness: ServeHarness) -> list[dict[str, Any]]:
    records = []
    for path in sorted(harness.audit_dir.glob("predictions-*.jsonl*")):
        records += [json.loads(line) for line in path.read_text().splitlines()]
    return records


def _shipped_records(s3: Any) -> list[dict[str, Any]]:
    listing = s3.list_objects_v2(Bucket=REPORTS_BUCKET, Prefix=AUDIT_PREFIX)
    records = []
    for entry in listing.get("Contents", []):
        body = s3.get_object(Bucket=REPORTS_BUCKET, Key=entry["Key"])["Body"].read()
        records += [json.loads(line) for line in body.decode().splitlines()]
    return records


def test_prediction_writes_one_audit_record(harness: ServeHarness) -> None:
    response = harness.call("POST", "/predict", REFERENCE_HOUSE, request_id="req-audit")
    (record,) = _audit_log_records(harness)

    assert record["request_id"] == "req-audit"
    assert record["route"] == "/predict"
    assert record["item"] == 0
    assert record["model_name"] == "house-price"
    assert record["model_version"] == "1"
    assert record["api_key_id"] == API_KEY_ID
    assert record["prediction"] == {"price_usd": response.json()["price_usd"]}
    assert record["input"]["Gr_Liv_Area"] == REFERENCE_HOUSE["Gr_Liv_Area"]
    assert record["input"]["Neighborhood"] == REFERENCE_HOUSE["Neighborhood"]
    assert record["lambda_request_id"]
    assert record["time"].endswith("+00:00")


def test_batch_writes_record_per_house(harness: ServeHarness) -> None:
    houses = sample_houses(7)

    response = harness.call("POST", "/predict/batch", {"houses": houses}, request_id="req-b")
    records = _audit_log_records(harness)

    assert [record["item"] for record in records] == list(range(7))
    assert {record["request_id"] for record in records} == {"req-b"}
    assert [record["prediction"]["price_usd"] for record in records] == response.json()[
        "prices_usd"
    ]


def test_rejected_request_writes_no_record(harness: ServeHarness) -> None:
    harness.call("POST", "/predict", {**REFERENCE_HOUSE, "Lot_Area": -1})

    assert _audit_log_records(harness) == []
    assert _file_records(harness) == []


def test_file_and_s3_hold_same_records(s3: Any, harness: ServeHarness) -> None:
    for index in range(3):
        harness.call("POST", "/predict", REFERENCE_HOUSE, request_id=f"req-{index}")
    logged = _audit_log_records(harness)

    shipper = harness.serving.audit.shipper
    assert shipper is not None
    location = shipper.flush()

    assert location is not None
    assert location.key.startswith(f"{AUDIT_PREFIX}dt=")
    assert location.key.endswith(".jsonl")
    assert _file_records(harness) == logged
    assert _shipped_records(s3) == logged


def test_api_key_value_is_never_written(
    s3: Any, harness: ServeHarness, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    harness.call("POST", "/predict", REFERENCE_HOUSE)
    harness.call("POST", "/predict", {**REFERENCE_HOUSE, "Lot_Area": -1})
    harness.call("GET", "/model")
    shipper = harness.serving.audit.shipper
    assert shipper is not None
    shipper.flush()
    captured = capsys.readouterr()

    assert API_KEY not in captured.out
    assert API_KEY not in captured.err
    assert API_KEY not in harness.log_stream.getvalue()
    assert API_KEY not in json.dumps(_file_records(harness))
    assert API_KEY not in json.dumps(_shipped_records(s3))


def test_shipper_ships_when_buffer_is_full(
    s3: Any,
    store: ObjectStore,
    model_a: TrainingResult,
    harness_factory: Callable[..., ServeHarness],
) -> None:
    publish_champion(store, MODELS_BUCKET, model_a, "1")
    harness = harness_factory(ship_records=5)

    harness.call("POST", "/predict/batch", {"houses": sample_houses(5)})
    deadline = time.monotonic() + SHIP_TIMEOUT_S
    while not _shipped_records(s3) and time.monotonic() < deadline:
        time.sleep(0.1)

    assert len(_shipped_records(s3)) == 5


def test_shipper_ships_oldest_record_after_interval(s3: Any, store: ObjectStore) -> None:
    shipper = AuditShipper(store, REPORTS_BUCKET, max_records=1000, interval_s=0.3)
    shipper.start()
    try:
        shipper.add(['{"item": 0}'])
        deadline = time.monotonic() + SHIP_TIMEOUT_S
        while not _shipped_records(s3) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        shipper.stop()

    assert _shipped_records(s3) == [{"item": 0}]
    assert shipper.buffered == 0


def test_failed_shipment_keeps_records(s3: Any, store: ObjectStore) -> None:
    shipper = AuditShipper(store, "reports-not-created-yet", max_records=10, interval_s=60)
    shipper.add(['{"item": 0}', '{"item": 1}'])

    failed = shipper.flush()
    s3.create_bucket(Bucket="reports-not-created-yet")
    shipped = shipper.flush()

    assert failed is None
    assert shipped is not None
    body = s3.get_object(Bucket="reports-not-created-yet", Key=shipped.key)["Body"].read()
    assert body.decode().splitlines() == ['{"item": 0}', '{"item": 1}']


def test_shipper_drops_oldest_beyond_buffer_limit(store: ObjectStore) -> None:
    shipper = AuditShipper(
        store, REPORTS_BUCKET, max_records=2, interval_s=60, max_buffered_records=3
    )

    shipper.add([f'{{"item": {index}}}' for index in range(5)])

    assert shipper.buffered == 3


def test_audit_file_rotates_at_size_limit(tmp_path: Path) -> None:
    trail = AuditTrail(
        None, tmp_path / "predictions-1.jsonl", None, file_max_bytes=2000, file_backups=2
    )
    request = RequestInfo(request_id="req", route="/predict")
    records = build_records(request, "house-price", "1", [REFERENCE_HOUSE] * 10, [1.0] * 10)

    trail.write(records)
    trail.close()

    files = sorted(path.name for path in tmp_path.iterdir())
    assert files == ["predictions-1.jsonl", "predictions-1.jsonl.1", "predictions-1.jsonl.2"]
    for name in files:
        assert (tmp_path / name).stat().st_size <= 2000


def test_build_records_rejects_mismatched_lengths() -> None:
    request = RequestInfo(request_id="req", route="/predict/batch")

    with pytest.raises(ValueError, match="2 houses, 1 prices"):
        build_records(request, "house-price", "1", [REFERENCE_HOUSE] * 2, [1.0])


@pytest.mark.parametrize("price", [float("nan"), float("inf")])
def test_build_records_rejects_non_finite_price(price: float) -> None:
    request = RequestInfo(request_id="req", route="/predict")

    with pytest.raises(ValueError, match="audit record 0 is invalid"):
        build_records(request, "house-price", "1", [REFERENCE_HOUSE], [price])


def test_audit_write_rejects_nan_before_writing(tmp_path: Path) -> None:
    path = tmp_path / "predictions-1.jsonl"
    trail = AuditTrail(None, path, None, file_max_bytes=10_000, file_backups=1)
    request = RequestInfo(request_id="req", route="/predict")
    (record,) = build_records(request, "house-price", "1", [REFERENCE_HOUSE], [1.0])
    record["input"] = {**record["input"], "Lot_Frontage": float("nan")}

    with pytest.raises(ValueError, match="Out of range float values"):
        trail.write([record])
    trail.close()

    assert path.read_text() == ""
