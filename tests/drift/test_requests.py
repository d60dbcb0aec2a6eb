"""Reading the serve function's audit records for the request window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from mhpe.drift.errors import AuditRecordError
from mhpe.drift.requests import parse_audit_line, read_request_window
from mhpe.storage import ObjectStore

from tests.drift.drift_support import AUDIT_PREFIX, ames_between, houses, ship_audit

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def test_window_reads_records_inside_it(store: ObjectStore) -> None:
    inputs = houses(ames_between("2008-01", "2008-01"))
    ship_audit(store, "reports", inputs[:10], NOW - timedelta(hours=2))
    ship_audit(store, "reports", inputs[10:15], NOW - timedelta(days=2))
    ship_audit(store, "reports", inputs[15:20], NOW - timedelta(days=9))

    window = read_request_window(store, "reports", AUDIT_PREFIX, NOW - timedelta(days=7), NOW)

    assert len(window.inputs) == 15
    assert len(window.objects) == 2
    assert window.inputs["Neighborhood"].notna().all()


def test_window_excludes_records_at_its_end(store: ObjectStore) -> None:
    ship_audit(store, "reports", houses(ames_between("2008-01", "2008-01"))[:3], NOW)

    window = read_request_window(store, "reports", AUDIT_PREFIX, NOW - timedelta(days=1), NOW)

    assert window.inputs.empty


def test_window_skips_invalid_lines(store: ObjectStore) -> None:
    at = NOW - timedelta(hours=1)
    key = ship_audit(store, "reports", houses(ames_between("2008-01", "2008-01"))[:4], at)
    body = store.read_latest("reports", key).body + b'not json\n{"time": "x", "input": {}}\n'
    store.create("reports", key.replace(".jsonl", "-2.jsonl"), body)

    window = read_request_window(store, "reports", AUDIT_PREFIX, NOW - timedelta(days=1), NOW)

    assert len(window.inputs) == 8
    assert window.skipped_records == 2


def test_parse_audit_line_requires_offset() -> None:
    with pytest.raises(AuditRecordError, match="has no UTC offset"):
        parse_audit_line('{"time": "2026-12-04T10:00:00", "input": {}}')


def test_window_requires_aware_times(store: ObjectStore) -> None:
    with pytest.raises(ValueError, match="aware datetimes"):
        read_request_window(store, "reports", AUDIT_PREFIX, datetime(2026, 12, 1), NOW)
