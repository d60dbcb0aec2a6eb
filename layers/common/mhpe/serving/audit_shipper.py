"""Shipping of audit records to S3 as JSON Lines objects, for the drift function.

Objects land at `{prefix}dt=YYYY-MM-DD/HHMMSSffffff-{worker_id}-{sequence}.jsonl`, dated by
the time they are written (UTC), one record per line. A background thread writes the
buffer once it contains `max_records` or its oldest record is `interval_s` old. A failed
write keeps the records for the next attempt, up to `max_buffered_records`; beyond that
the oldest are dropped and counted in a warning.

NOTE: records still buffered when the worker stops never reach S3. The local cloud stops a
worker with SIGKILL, and Lambda may freeze and discard an environment without notice, so no
exit hook can flush the buffer. The function's log keeps every record, so the loss is at
most `interval_s` or `max_records` of S3 copies per worker.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from botocore.exceptions import BotoCoreError, ClientError

from mhpe.exceptions import MhpeError
from mhpe.storage import ObjectLocation, ObjectStore

logger = logging.getLogger(__name__)

AUDIT_PREFIX = "audit/predictions/"
JSON_LINES_CONTENT_TYPE = "application/x-ndjson"
MAX_BUFFERED_RECORDS = 50_000
THREAD_JOIN_S = 5.0


class AuditShipper:
    """Buffers audit lines and writes them to `s3://{bucket}/{prefix}` from a thread."""

    def __init__(
        self,
        store: ObjectStore,
        bucket: str,
        *,
        prefix: str = AUDIT_PREFIX,
        max_records: int,
        interval_s: float,
        max_buffered_records: int = MAX_BUFFERED_RECORDS,
        worker_id: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_records < 1 or max_buffered_records < max_records:
            raise ValueError(
                f"max_records {max_records} must be 1 or more and at most "
                f"max_buffered_records {max_buffered_records}"
            )
        if not interval_s > 0:
            raise ValueError(f"interval_s {interval_s} is invalid: it must be more than 0")
        self._store = store
        self.bucket = bucket
        self.prefix = prefix
        self._max_records = max_records
        self._interval_s = interval_s
        self._max_buffered = max_buffered_records
        self.worker_id = worker_id or uuid.uuid4().hex[:12]
        self._clock = clock

        self._lines: deque[str] = deque()
        self._oldest_s: float | None = None
        self._sequence = 0
        self._dropped = 0
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the background thread that ships the buffer when it is due."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="audit-shipper", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and ship what is left."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(THREAD_JOIN_S)
        self.flush()

    @property
    def buffered(self) -> int:
        return len(self._lines)

    def add(self, lines: Sequence[str]) -> None:
        """Queue JSON lines for the thread to write; S3 is not called here."""
        if not lines:
            return
        with self._lock:
            was_empty = not self._lines
            self._lines.extend(lines)
            if was_empty:
                self._oldest_s = self._clock()
            overflow = len(self._lines) - self._max_buffered
            if overflow > 0:
                for _ in range(overflow):
                    self._lines.popleft()
                self._dropped += overflow
            full = len(self._lines) >= self._max_records
        if was_empty or full:
            self._wake.set()

    def flush(self) -> ObjectLocation | None:
        """Write every buffered line to one new object now; return it, or None if none."""
        with self._write_lock:
            with self._lock:
                if not self._lines:
                    return None
                lines = list(self._lines)
                self._lines.clear()
                self._oldest_s = None
                self._sequence += 1
                sequence = self._sequence
                dropped, self._dropped = self._dropped, 0
            if dropped:
                logger.warning(
                    "dropped %d audit records before shipping: the buffer keeps at most %d",
                    dropped,
                    self._max_buffered,
                )
            key = self._object_key(sequence)
            body = ("\n".join(lines) + "\n").encode()
            try:
                location = self._store.create(
                    self.bucket, key, body, content_type=JSON_LINES_CONTENT_TYPE
                )
            except (ClientError, BotoCoreError, MhpeError) as error:
                self._requeue(lines)
                logger.warning(
                    "could not ship %d audit records to s3://%s/%s; keeping them for the "
                    "next attempt: %s",
                    len(lines),
                    self.bucket,
                    key,
                    error,
                )
                return None
            logger.info("shipped %d audit records to %s", len(lines), location.uri)
            return location

    def _requeue(self, lines: list[str]) -> None:
        with self._lock:
            self._lines.extendleft(reversed(lines))
            self._oldest_s = self._clock()
            overflow = len(self._lines) - self._max_buffered
            for _ in range(max(overflow, 0)):
                self._lines.popleft()
            self._dropped += max(overflow, 0)

    def _object_key(self, sequence: int) -> str:
        now = datetime.now(UTC)
        return (
            f"{self.prefix}dt={now:%Y-%m-%d}/{now:%H%M%S%f}-{self.worker_id}-{sequence:06d}.jsonl"
        )

    def _due_in_s(self) -> float | None:
        """Seconds until the buffer is due, 0 when due now, None when it is empty."""
        with self._lock:
            if not self._lines or self._oldest_s is None:
                return None
            if len(self._lines) >= self._max_records:
                return 0.0
            return max(self._oldest_s + self._interval_s - self._clock(), 0.0)

    def _run(self) -> None:
        while not self._stopping.is_set():
            due_in_s = self._due_in_s()
            if due_in_s == 0.0:
                if self.flush() is None and self.buffered:
                    # The write failed: wait before the next attempt instead of spinning.
                    self._stopping.wait(self._interval_s)
                continue
            self._wake.wait(timeout=due_in_s if due_in_s is not None else self._interval_s)
            self._wake.clear()
