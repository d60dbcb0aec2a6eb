"""The warm workers, concurrency slots, async queue and counters of one function name.

Every method takes the pool's condition lock itself and leaves starting and stopping worker
processes to the caller, outside the lock. A slot is one running invocation: sync
calls and async dispatches take one before they check out a worker and give it back after.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from infra.localcloud.runtime.errors import TooManyRequestsError
from infra.localcloud.runtime.spec import FunctionSpec
from infra.localcloud.runtime.worker import WorkerProcess

logger = logging.getLogger(__name__)

# The maximum single wait on the pool's condition, so that every waiter rechecks shutdown.
MAX_WAIT_S = 1.0

_sequence = itertools.count()


@dataclass(order=True)
class AsyncEvent:
    """One queued asynchronous invocation, which keeps its request id across retries as on Lambda."""

    due: float
    sequence: int = field(default_factory=lambda: next(_sequence))
    request_id: str = field(default="", compare=False)
    event: bytes = field(default=b"", compare=False)
    enqueued_at: float = field(default_factory=time.monotonic, compare=False)
    attempt: int = field(default=0, compare=False)
    throttles: int = field(default=0, compare=False)


class FunctionPool:
    """The state of one function name across revisions of its code and configuration."""

    STAT_KEYS = (
        "cold_starts",
        "warm_starts",
        "running",
        "idle_workers",
        "busy_workers",
        "queued",
        "invocations",
        "errors",
        "timeouts",
        "throttles",
        "async_retries",
        "async_failures",
        "async_expired",
    )

    def __init__(self, spec: FunctionSpec, max_workers: int) -> None:
        self.function_name = spec.function_name
        self.spec = spec
        self.counters: Counter[str] = Counter()
        self.dispatcher: threading.Thread | None = None
        self.condition = threading.Condition()
        self._max_workers = max_workers
        self._idle: list[WorkerProcess] = []
        self._busy: set[WorkerProcess] = set()
        self._running = 0
        self._queue: list[AsyncEvent] = []
        self._closed = False

    def refresh(self, spec: FunctionSpec) -> list[WorkerProcess]:
        """Make `spec` current and return the idle workers of an older revision, to be stopped."""
        with self.condition:
            if spec == self.spec:
                return []
            changed = spec.worker_key != self.spec.worker_key
            self.spec = spec
            self.condition.notify_all()
            if not changed:
                return []
            stale, self._idle = self._idle, []
        logger.info(
            "function %s changed to revision %r, replacing %d idle workers",
            spec.function_name,
            spec.revision,
            len(stale),
        )
        return stale

    def acquire_slot(self, spec: FunctionSpec, is_stopping: Callable[[], bool]) -> bool:
        """Take a slot for a sync call, or return False if the runtime stopped while it waited.

        Raise TooManyRequestsError when the reserved concurrency is exhausted. Without a
        reservation, wait until fewer than the maximum of workers run.
        """
        with self.condition:
            while not (is_stopping() or self._closed):
                if self._running < self._limit(spec):
                    self._running += 1
                    return True
                if spec.reserved_concurrency is not None:
                    self.counters["throttles"] += 1
                    raise TooManyRequestsError(spec.function_name, spec.reserved_concurrency)
                self.condition.wait(MAX_WAIT_S)
        return False

    def release_slot(self) -> None:
        with self.condition:
            self._running -= 1
            self.condition.notify_all()

    def check_out(self) -> WorkerProcess | None:
        """Take the most recently used idle worker, if any.

        Idle workers always run the current revision, because `refresh` removes the others
        and `check_in` keeps only current ones.
        """
        with self.condition:
            if not self._idle:
                return None
            worker = self._idle.pop()
            self._busy.add(worker)
            return worker

    def add_busy(self, worker: WorkerProcess) -> None:
        with self.condition:
            self._busy.add(worker)

    def check_in(self, worker: WorkerProcess) -> bool:
        """Return a worker to the idle list after an invocation, or return False to have it stopped."""
        with self.condition:
            self._busy.discard(worker)
            if self._closed or worker.key != self.spec.worker_key:
                return False
            worker.idle_since = time.monotonic()
            self._idle.append(worker)
            return True

    def forget(self, worker: WorkerProcess) -> None:
        with self.condition:
            self._busy.discard(worker)

    def take_expired(self, idle_ttl_s: float) -> list[WorkerProcess]:
        """Remove and return idle workers unused for `idle_ttl_s` seconds, or no longer alive."""
        now = time.monotonic()
        with self.condition:
            expired = [
                worker
                for worker in self._idle
                if now - worker.idle_since > idle_ttl_s or not worker.alive()
            ]
            self._idle = [worker for worker in self._idle if worker not in expired]
        return expired

    def close(self) -> tuple[list[WorkerProcess], list[WorkerProcess], list[AsyncEvent]]:
        """Close the pool and return its idle workers, busy workers and queued events."""
        with self.condition:
            self._closed = True
            idle, self._idle = self._idle, []
            busy = list(self._busy)
            queued, self._queue = self._queue, []
            self.condition.notify_all()
        return idle, busy, queued

    @property
    def closed(self) -> bool:
        return self._closed

    def enqueue(self, item: AsyncEvent) -> bool:
        """Queue an async event, or return False if the pool is closed."""
        with self.condition:
            if self._closed:
                return False
            heapq.heappush(self._queue, item)
            self.condition.notify_all()
            return True

    def next_async_event(
        self, throttle_delay_s: Callable[[int], float], max_event_age_s: float
    ) -> tuple[AsyncEvent | None, list[AsyncEvent]]:
        """Wait up to MAX_WAIT_S for a due event and a free slot.

        Return the event with its slot taken, or None, and the events dropped because they
        outlived `max_event_age_s`. A due event that finds the reserved concurrency exhausted
        is throttled: it goes back to the queue, due after `throttle_delay_s(throttles)`.
        """
        with self.condition:
            if self._closed or not self._queue:
                self.condition.wait(MAX_WAIT_S)
                return None, []
            now = time.monotonic()
            head = self._queue[0]
            if head.due > now:
                self.condition.wait(min(head.due - now, MAX_WAIT_S))
                return None, []
            if now - head.enqueued_at > max_event_age_s:
                heapq.heappop(self._queue)
                self.counters["async_expired"] += 1
                return None, [head]
            if self._running < self._limit(self.spec):
                heapq.heappop(self._queue)
                self._running += 1
                return head, []
            if self.spec.reserved_concurrency is None:
                self.condition.wait(MAX_WAIT_S)
                return None, []

            heapq.heappop(self._queue)
            delay_s = throttle_delay_s(head.throttles)
            head.throttles += 1
            head.due = now + delay_s
            heapq.heappush(self._queue, head)
            self.counters["throttles"] += 1
        logger.warning(
            "async request %s of %s throttled by reserved concurrency %d, retrying in %.1f s",
            head.request_id,
            self.function_name,
            self.spec.reserved_concurrency,
            delay_s,
        )
        return None, []

    def stats(self) -> dict[str, int]:
        with self.condition:
            values = dict(self.counters)
            values["running"] = self._running
            values["idle_workers"] = len(self._idle)
            values["busy_workers"] = len(self._busy)
            values["queued"] = len(self._queue)
        return {key: values.get(key, 0) for key in self.STAT_KEYS}

    def count(self, name: str) -> None:
        with self.condition:
            self.counters[name] += 1

    def _limit(self, spec: FunctionSpec) -> int:
        if spec.reserved_concurrency is not None:
            return spec.reserved_concurrency
        return self._max_workers
