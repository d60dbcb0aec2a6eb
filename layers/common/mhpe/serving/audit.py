"""The audit record of every prediction, and the three places it is written.

One record per priced house, as one JSON object:

    {"schema_version": 1, "request_id": "...", "lambda_request_id": "...", "item": 0,
     "time": "2026-12-04T16:55:01.123456+00:00", "route": "/predict",
     "api_key_id": "x9y8z7w6v5", "model_name": "house-price", "model_version": "3",
     "input": {...the validated house...}, "prediction": {"price_usd": 181234.5}}

`request_id` is API Gateway's request id (the client's x-amzn-RequestId), `item` the
house's position in a batch. The record contains the API key's id, never its value.
`AuditTrail.write` sends each record to the function's log (a Powertools Logger, as
structured JSON), to a rotating local file, and to the S3 shipper.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Any, Protocol

from mhpe.serving.audit_shipper import AuditShipper

logger = logging.getLogger(__name__)

AUDIT_SCHEMA_VERSION = 1
AUDIT_LOG_MESSAGE = "prediction audit"
AUDIT_LOG_KEY = "audit"


class StructuredLogger(Protocol):
    """The part of a Powertools Logger (or a logging.Logger) that the trail uses."""

    def info(self, msg: object, *args: object, extra: Mapping[str, object] | None = ...) -> Any: ...


@dataclass(frozen=True)
class RequestInfo:
    """The ids of one API request that its audit records carry."""

    request_id: str
    route: str
    lambda_request_id: str | None = None
    api_key_id: str | None = None


def build_records(
    request: RequestInfo,
    model_name: str,
    model_version: str,
    houses: Sequence[Mapping[str, Any]],
    prices_usd: Sequence[float],
    at: datetime | None = None,
) -> list[dict[str, Any]]:
    """Build one record per house; `houses` and `prices_usd` are in the same order.

    Raises ValueError when the lengths differ or a price is not finite, because strict
    JSON, and so the audit, cannot hold NaN or Infinity.
    """
    if len(houses) != len(prices_usd):
        raise ValueError(
            f"audit needs one price per house: {len(houses)} houses, {len(prices_usd)} prices"
        )
    for item, price in enumerate(prices_usd):
        if not math.isfinite(price):
            raise ValueError(f"audit record {item} is invalid: its price {price!r} is not finite")
    time_text = (at or datetime.now(UTC)).isoformat()
    return [
        {
            "schema_version": AUDIT_SCHEMA_VERSION,
            "request_id": request.request_id,
            "lambda_request_id": request.lambda_request_id,
            "item": item,
            "time": time_text,
            "route": request.route,
            "api_key_id": request.api_key_id,
            "model_name": model_name,
            "model_version": model_version,
            "input": dict(house),
            "prediction": {"price_usd": price},
        }
        for item, (house, price) in enumerate(zip(houses, prices_usd, strict=True))
    ]


def audit_file_path(directory: Path) -> Path:
    """Return this process's audit file: one per process, so that rotation never races."""
    return directory / f"predictions-{os.getpid()}.jsonl"


class AuditTrail:
    """Writes audit records to the log, a rotating local file and the S3 shipper.

    Any of the three may be None. The file rotates at `file_max_bytes` and keeps
    `file_backups` older files.
    """

    def __init__(
        self,
        log: StructuredLogger | None,
        file_path: Path | None,
        shipper: AuditShipper | None,
        *,
        file_max_bytes: int,
        file_backups: int,
    ) -> None:
        self._log = log
        self._shipper = shipper
        self.file_path = file_path
        # The handler is used without a logger, so that its lines reach only this file.
        self._file_handler: RotatingFileHandler | None = None
        if file_path is not None:
            file_path.parent.mkdir(parents=True, exist_ok=True)
            self._file_handler = RotatingFileHandler(
                file_path, maxBytes=file_max_bytes, backupCount=file_backups, encoding="utf-8"
            )
            self._file_handler.setFormatter(logging.Formatter("%(message)s"))

    @property
    def shipper(self) -> AuditShipper | None:
        return self._shipper

    def write(self, records: Sequence[dict[str, Any]]) -> None:
        """Write records to all three places; the logging module reports a failed write on stderr.

        Raises ValueError, before writing anything, when a record contains NaN or Infinity.
        """
        lines = [
            json.dumps(record, separators=(",", ":"), default=str, allow_nan=False)
            for record in records
        ]
        if self._log is not None:
            for record in records:
                self._log.info(AUDIT_LOG_MESSAGE, extra={AUDIT_LOG_KEY: record})
        if self._file_handler is not None:
            for line in lines:
                self._file_handler.handle(
                    logging.LogRecord(__name__, logging.INFO, __file__, 0, line, None, None)
                )
        if self._shipper is not None:
            self._shipper.add(lines)

    def close(self) -> None:
        """Ship what is buffered and close the file."""
        if self._shipper is not None:
            self._shipper.stop()
        if self._file_handler is not None:
            self._file_handler.close()
