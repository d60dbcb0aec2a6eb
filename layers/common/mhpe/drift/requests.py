"""Recent requests: the house inputs of the predictions in the serve function's audit trail.

The serve function ships its audit records to the reports bucket as JSON Lines objects under
`{audit_prefix}dt=YYYY-MM-DD/`, dated when they are written (UTC). Each line is one priced
house with at least `time` (ISO 8601 with an offset) and `input` (the house's fields). Only the
partitions of the window's days are listed, and only records whose time lies in the window
count.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd

from mhpe.drift.errors import AuditRecordError
from mhpe.storage import ObjectLocation, ObjectStore

logger = logging.getLogger(__name__)

PARTITION_FORMAT = "dt={day:%Y-%m-%d}/"


@dataclass(frozen=True)
class RequestWindow:
    """The inputs of the predictions made in [start, end), and the objects they came from."""

    start: datetime
    end: datetime
    inputs: pd.DataFrame
    objects: tuple[str, ...]
    skipped_records: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "rows": len(self.inputs),
            "objects": len(self.objects),
            "skipped_records": self.skipped_records,
        }


def _days(start: datetime, end: datetime) -> list[date]:
    first, last = start.date(), end.date()
    return [first + timedelta(days=offset) for offset in range((last - first).days + 1)]


def parse_audit_line(line: str) -> tuple[datetime, dict[str, Any]]:
    """Return one audit record's time and house input; raise AuditRecordError when invalid."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise AuditRecordError(f"audit line is not JSON: {error}") from error
    if not isinstance(record, dict):
        raise AuditRecordError(f"audit line is a JSON {type(record).__name__}, not an object")
    house = record.get("input")
    if not isinstance(house, dict):
        raise AuditRecordError(f"audit record {record.get('request_id')} has no input object")
    try:
        at = datetime.fromisoformat(str(record["time"]))
    except (KeyError, ValueError) as error:
        raise AuditRecordError(
            f"audit record {record.get('request_id')} has no ISO 8601 time: {record.get('time')!r}"
        ) from error
    if at.tzinfo is None:
        raise AuditRecordError(
            f"audit record {record.get('request_id')} time {record['time']!r} has no UTC offset"
        )
    return at, house


def read_request_window(
    store: ObjectStore, bucket: str, prefix: str, start: datetime, end: datetime
) -> RequestWindow:
    """Collect the inputs of every audit record with start <= time < end.

    `start` and `end` must carry a time zone. Invalid lines are skipped and counted, and one
    warning per object names the first problem.
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError(f"the request window needs aware datetimes, got {start!r} to {end!r}")
    inputs: list[dict[str, Any]] = []
    objects: list[str] = []
    skipped = 0
    # NOTE: every audit object of the window's days is read, one GET each. A serve worker with
    # steady traffic ships an object about every 10 s (AUDIT_SHIP_INTERVAL_S), so a busy week
    # means tens of thousands of GETs. Sample the objects before reading them when that is slow.
    for day in _days(start, end):
        for summary in store.list(bucket, prefix + PARTITION_FORMAT.format(day=day)):
            body = store.read(ObjectLocation(bucket, summary.key)).decode("utf-8")
            objects.append(f"{summary.key}#{summary.etag}")
            first_problem = None
            for line in body.splitlines():
                if not line.strip():
                    continue
                try:
                    at, house = parse_audit_line(line)
                except AuditRecordError as error:
                    skipped += 1
                    first_problem = first_problem or str(error)
                    continue
                if start <= at < end:
                    inputs.append(house)
            if first_problem:
                logger.warning("skipped invalid audit lines in %s: %s", summary.key, first_problem)

    frame = pd.DataFrame.from_records(inputs) if inputs else pd.DataFrame()
    logger.info(
        "read %d prediction inputs from %d audit objects in s3://%s/%s (%s to %s)",
        len(frame),
        len(objects),
        bucket,
        prefix,
        start.isoformat(),
        end.isoformat(),
    )
    return RequestWindow(start, end, frame, tuple(objects), skipped)
