"""The function runtime: warm pools of worker processes that run Lambda handlers.

`Runtime.invoke` plays Lambda's RequestResponse invocation and `Runtime.invoke_async` its
Event invocation, with Lambda's retries. Each function name has a `FunctionPool` of workers.
A worker is a separate Python process (see bootstrap.py). It serves invocation after
invocation until its function's revision changes, it fails, or it stays idle past
`idle_worker_ttl_s`.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from infra.localcloud.runtime import logs, wire
from infra.localcloud.runtime.errors import (
    InvalidRequestContentError,
    RequestTooLargeError,
    RuntimeShutdownError,
    TooManyRequestsError,
)
from infra.localcloud.runtime.function_pool import AsyncEvent, FunctionPool
from infra.localcloud.runtime.logs import InvocationLog, LogSink
from infra.localcloud.runtime.outcome import ColdStart, InvocationReport
from infra.localcloud.runtime.result import MAX_PAYLOAD_BYTES, InvocationResult
from infra.localcloud.runtime.spec import FunctionSpec
from infra.localcloud.runtime.worker import PhaseStatus, WorkerProcess

__all__ = [
    "InvocationResult",
    "Runtime",
    "TooManyRequestsError",
]

logger = logging.getLogger(__name__)

# Lambda's init phase may take 10 seconds.
DEFAULT_INIT_TIMEOUT_S = 10.0
# Lambda retries throttled async events with a growing delay, for up to 6 hours.
DEFAULT_THROTTLE_DELAYS_S = (1.0, 300.0)
DEFAULT_MAX_EVENT_AGE_S = 6 * 3600.0
THREAD_JOIN_S = 5.0
EMPTY_ENVIRONMENT: Mapping[str, str] = MappingProxyType({})


class Runtime:
    """Runs Lambda functions in warm pools of worker processes, one pool per function name.

    All public methods are thread-safe. A sync call beyond a function's reserved concurrency
    raises TooManyRequestsError, and one beyond `max_workers_per_function` waits for a free
    worker. An async event that fails or times out is retried once after each delay of
    `async_retry_delays_s`, keeping its request id. An async event that finds the reserved
    concurrency exhausted is throttled: it waits `async_throttle_delays_s[0]` seconds,
    doubling up to `[1]`, and is dropped after `async_max_event_age_s`.

    A new worker's init (the handler's import) may take `init_timeout_s`. A longer init
    goes on, but its overrun is taken from the function's timeout, as on Lambda.
    `enforce_memory` kills a worker whose resident memory exceeds the function's MemorySize.
    """

    def __init__(
        self,
        log_dir: Path,
        base_environment: Mapping[str, str] = EMPTY_ENVIRONMENT,
        *,
        max_workers_per_function: int = 8,
        async_retry_delays_s: tuple[float, ...] = (60.0, 120.0),
        log_sink: LogSink | None = None,
        idle_worker_ttl_s: float = 600,
        init_timeout_s: float = DEFAULT_INIT_TIMEOUT_S,
        enforce_memory: bool = True,
        async_throttle_delays_s: tuple[float, float] = DEFAULT_THROTTLE_DELAYS_S,
        async_max_event_age_s: float = DEFAULT_MAX_EVENT_AGE_S,
    ) -> None:
        if max_workers_per_function < 1:
            raise ValueError(
                f"max_workers_per_function {max_workers_per_function} is invalid: it must be 1 "
                "or more"
            )
        if any(delay_s < 0 for delay_s in async_retry_delays_s):
            raise ValueError(
                f"async_retry_delays_s {async_retry_delays_s} is invalid: delays must be 0 or more"
            )
        if idle_worker_ttl_s <= 0 or init_timeout_s <= 0 or async_max_event_age_s <= 0:
            raise ValueError(
                f"idle_worker_ttl_s {idle_worker_ttl_s}, init_timeout_s {init_timeout_s} and "
                f"async_max_event_age_s {async_max_event_age_s} must all be more than 0"
            )
        first_throttle_s, max_throttle_s = async_throttle_delays_s
        if not 0 < first_throttle_s <= max_throttle_s:
            raise ValueError(
                f"async_throttle_delays_s {async_throttle_delays_s} is invalid: it must be "
                "(first delay, maximum delay) with 0 < first <= maximum"
            )

        self._log = InvocationLog(Path(log_dir), log_sink)
        self._base_environment = dict(base_environment)
        self._max_workers = max_workers_per_function
        self._retry_delays_s = tuple(async_retry_delays_s)
        self._idle_ttl_s = idle_worker_ttl_s
        self._init_timeout_s = init_timeout_s
        self._enforce_memory = enforce_memory
        self._throttle_delays_s = (first_throttle_s, max_throttle_s)
        self._max_event_age_s = async_max_event_age_s

        self._pools: dict[str, FunctionPool] = {}
        self._pools_lock = threading.Lock()
        self._activity = threading.Condition()
        self._pending = 0
        self._stopping = threading.Event()
        self._sweeper = threading.Thread(
            target=self._sweep_idle_workers, name="runtime-idle-sweeper", daemon=True
        )
        self._sweeper.start()

    def invoke(
        self, spec: FunctionSpec, event: bytes, *, request_id: str | None = None
    ) -> InvocationResult:
        """Run one synchronous invocation and return its result, a function error included.

        Raise TooManyRequestsError when the reserved concurrency is exhausted,
        InvalidRequestContentError when the event is not JSON, and RequestTooLargeError when
        it is larger than Lambda's 6 MB limit.
        """
        self._check_open()
        event = _validated_event(spec, event)
        request_id = request_id or str(uuid.uuid4())
        pool = self._pool_for(spec)

        self._begin_activity()
        try:
            if not pool.acquire_slot(spec, self._stopping.is_set):
                raise RuntimeShutdownError(
                    f"request {request_id} of {spec.function_name} did not run: the runtime shut "
                    "down, or the function was removed, while it waited for a worker"
                )
            try:
                return self._run(pool, spec, event, request_id)
            finally:
                pool.release_slot()
        finally:
            self._end_activity()

    def invoke_async(self, spec: FunctionSpec, event: bytes) -> str:
        """Queue an asynchronous invocation and return its request id at once."""
        self._check_open()
        event = _validated_event(spec, event)
        request_id = str(uuid.uuid4())
        pool = self._pool_for(spec)

        self._begin_activity()
        if not pool.enqueue(AsyncEvent(due=time.monotonic(), request_id=request_id, event=event)):
            self._end_activity()
            raise RuntimeShutdownError(
                f"function {spec.function_name} was removed while request {request_id} was queued"
            )
        self._start_dispatcher(pool)
        logger.info("queued async request %s of function %s", request_id, spec.function_name)
        return request_id

    def update(self, spec: FunctionSpec) -> None:
        """Make `spec` current for its function without invoking it.

        Queued async events and their retries run with the newest spec of their function, so
        a change of code, configuration or reserved concurrency applies to them too.
        """
        self._check_open()
        self._pool_for(spec)

    def remove(self, function_name: str) -> None:
        """Stop a function's workers and drop its queued async events, as when it is deleted."""
        with self._pools_lock:
            pool = self._pools.pop(function_name, None)
        if pool is not None:
            self._close_pool(pool)

    def wait_idle(self, timeout_s: float) -> bool:
        """Wait until no invocation is queued or running, or return False after `timeout_s`."""
        with self._activity:
            return self._activity.wait_for(lambda: self._pending == 0, timeout_s)

    def stats(self, function_name: str) -> dict[str, int]:
        """Return a function's counters and current state, all zeros for an unknown function.

        Keys: cold_starts, warm_starts, running, idle_workers, busy_workers, queued (async
        events waiting, retries included), invocations, errors, timeouts, throttles,
        async_retries, async_failures (events dropped after their last retry), async_expired.
        """
        with self._pools_lock:
            pool = self._pools.get(function_name)
        if pool is None:
            return dict.fromkeys(FunctionPool.STAT_KEYS, 0)
        return pool.stats()

    def log_path(self, function_name: str) -> Path:
        return self._log.path(function_name)

    def shutdown(self) -> None:
        """Stop every worker and the async dispatchers, and drop the queued async events."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        with self._pools_lock:
            pools = list(self._pools.values())
        for pool in pools:
            self._close_pool(pool)
        self._sweeper.join(THREAD_JOIN_S)
        logger.info("runtime shut down, with the workers of %d functions stopped", len(pools))

    def _check_open(self) -> None:
        if self._stopping.is_set():
            raise RuntimeShutdownError("the runtime is shut down, so create a new Runtime")

    def _pool_for(self, spec: FunctionSpec) -> FunctionPool:
        with self._pools_lock:
            pool = self._pools.get(spec.function_name)
            if pool is None:
                pool = FunctionPool(spec, self._max_workers)
                self._pools[spec.function_name] = pool
                return pool
        for worker in pool.refresh(spec):
            worker.stop()
        return pool

    def _close_pool(self, pool: FunctionPool) -> None:
        idle, busy, queued = pool.close()
        for worker in idle:
            worker.stop()
        # The threads that run the busy workers see them exit and release them.
        for worker in busy:
            worker.kill()
        for item in queued:
            logger.warning(
                "dropped queued async request %s of %s", item.request_id, pool.function_name
            )
            self._end_activity()
        if pool.dispatcher is not None:
            pool.dispatcher.join(THREAD_JOIN_S)

    def _begin_activity(self) -> None:
        with self._activity:
            self._pending += 1

    def _end_activity(self) -> None:
        with self._activity:
            self._pending -= 1
            if self._pending == 0:
                self._activity.notify_all()

    def _run(
        self, pool: FunctionPool, spec: FunctionSpec, event: bytes, request_id: str
    ) -> InvocationResult:
        """Run one invocation on a warm worker or a new one, in a slot that the caller took."""
        worker = self._check_out_live_worker(pool)
        if worker is not None:
            pool.count("warm_starts")
            return self._run_on_worker(pool, spec, worker, event, request_id, None)

        pool.count("cold_starts")
        if not spec.code_dir.is_dir():
            raise FileNotFoundError(
                f"code_dir {spec.code_dir} of function {spec.function_name} is not a directory"
            )
        worker = WorkerProcess(spec, self._base_environment, self._enforce_memory)
        pool.add_busy(worker)
        # Lambda gives the init phase 10 seconds. A longer init is retried inside the
        # invocation and counts against the function's timeout, so here the init may run
        # on, and its overrun is taken from the handler's time.
        init = worker.wait_ready(self._init_timeout_s + spec.timeout_s)
        init_lines = [logs.init_start_line(spec), *init.log_lines]
        cold = ColdStart(init.elapsed_ms, init_lines)
        if init.status is PhaseStatus.COMPLETED and init.header["type"] == wire.READY:
            worker.record_memory(init.header)
            overrun_s = max(init.elapsed_ms / 1000 - self._init_timeout_s, 0.0)
            return self._run_on_worker(
                pool, spec, worker, event, request_id, cold, spec.timeout_s - overrun_s
            )

        pool.forget(worker)
        worker.stop()
        report = InvocationReport(request_id)
        report.init_failed(init, spec)
        logger.warning(
            "init of function %s failed for request %s: %s",
            spec.function_name,
            request_id,
            report.error_type,
        )
        return self._finish(pool, spec, report, [], cold)

    def _check_out_live_worker(self, pool: FunctionPool) -> WorkerProcess | None:
        """Take an idle worker, and stop the ones that died while idle."""
        while (worker := pool.check_out()) is not None:
            if worker.alive():
                return worker
            logger.warning(
                "idle worker %d of %s had exited, starting another", worker.pid, pool.function_name
            )
            pool.forget(worker)
            worker.stop()
        return None

    def _run_on_worker(
        self,
        pool: FunctionPool,
        spec: FunctionSpec,
        worker: WorkerProcess,
        event: bytes,
        request_id: str,
        cold: ColdStart | None,
        timeout_s: float | None = None,
    ) -> InvocationResult:
        timeout_s = spec.timeout_s if timeout_s is None else timeout_s
        outcome = worker.invoke(request_id, spec.function_arn, event, timeout_s)
        report = InvocationReport(request_id)
        if outcome.status is PhaseStatus.COMPLETED:
            worker.record_memory(outcome.header)
            report.completed(outcome, spec, worker.max_memory_used_mb, self._enforce_memory)
        else:
            report.failed(outcome, spec, worker.max_memory_used_mb)

        if report.keeps_worker and outcome.status is PhaseStatus.COMPLETED:
            if not pool.check_in(worker):
                worker.stop()
        else:
            pool.forget(worker)
            worker.stop()
        return self._finish(pool, spec, report, outcome.log_lines, cold)

    def _finish(
        self,
        pool: FunctionPool,
        spec: FunctionSpec,
        report: InvocationReport,
        invocation_lines: list[str],
        cold: ColdStart | None,
    ) -> InvocationResult:
        """Count the invocation, write its log lines, and build its result."""
        lines = report.log_lines(spec, invocation_lines, cold)
        self._log.record(spec, report.request_id, lines)
        pool.count("invocations")
        if report.error_type is not None:
            pool.count("errors")
        if report.status == "timeout":
            pool.count("timeouts")
        return report.result(lines, cold is not None)

    def _start_dispatcher(self, pool: FunctionPool) -> None:
        with pool.condition:
            if pool.dispatcher is not None:
                return
            pool.dispatcher = threading.Thread(
                target=self._dispatch_async_events,
                args=(pool,),
                name=f"runtime-async-{pool.function_name}",
                daemon=True,
            )
        pool.dispatcher.start()

    def _dispatch_async_events(self, pool: FunctionPool) -> None:
        while not (self._stopping.is_set() or pool.closed):
            item, expired = pool.next_async_event(self._throttle_delay_s, self._max_event_age_s)
            for dropped in expired:
                logger.error(
                    "dropped async request %s of %s: older than the maximum event age of %.0f s",
                    dropped.request_id,
                    pool.function_name,
                    self._max_event_age_s,
                )
                self._end_activity()
            if item is not None:
                threading.Thread(
                    target=self._run_async_event,
                    args=(pool, item),
                    name=f"runtime-async-{item.request_id}",
                    daemon=True,
                ).start()

    def _run_async_event(self, pool: FunctionPool, item: AsyncEvent) -> None:
        """Run one attempt of an async event in a slot already taken, and queue a retry if it fails."""
        spec = pool.spec
        failed = True
        try:
            result = self._run(pool, spec, item.event, item.request_id)
            failed = result.function_error is not None
        except Exception:  # an async failure has no caller to raise to
            logger.exception(
                "async request %s of %s could not run", item.request_id, spec.function_name
            )
        finally:
            pool.release_slot()

        if not failed or self._stopping.is_set():
            self._end_activity()
            return
        if item.attempt < len(self._retry_delays_s):
            delay_s = self._retry_delays_s[item.attempt]
            item.attempt += 1
            item.due = time.monotonic() + delay_s
            logger.warning(
                "async request %s of %s failed, retry %d of %d in %.1f s",
                item.request_id,
                spec.function_name,
                item.attempt,
                len(self._retry_delays_s),
                delay_s,
            )
            pool.count("async_retries")
            if pool.enqueue(item):
                return
        else:
            pool.count("async_failures")
            logger.error(
                "async request %s of %s failed %d times, dropping it",
                item.request_id,
                spec.function_name,
                item.attempt + 1,
            )
        self._end_activity()

    def _throttle_delay_s(self, throttles: int) -> float:
        first_s, max_s = self._throttle_delays_s
        return min(first_s * 2**throttles, max_s)

    def _sweep_idle_workers(self) -> None:
        interval_s = min(max(self._idle_ttl_s / 4, 0.05), 30.0)
        while not self._stopping.wait(interval_s):
            with self._pools_lock:
                pools = list(self._pools.values())
            for pool in pools:
                for worker in pool.take_expired(self._idle_ttl_s):
                    logger.info(
                        "stopping worker %d of %s: idle for more than %.0f s or exited",
                        worker.pid,
                        pool.function_name,
                        self._idle_ttl_s,
                    )
                    worker.stop()


def _validated_event(spec: FunctionSpec, event: bytes) -> bytes:
    """Return the event, "{}" for an empty one, and raise if it is too large or not JSON."""
    if not event:
        return b"{}"
    # NOTE: async events get the 6 MB limit of sync requests too, but Lambda's own limit for
    # async events is lower.
    if len(event) > MAX_PAYLOAD_BYTES:
        raise RequestTooLargeError(
            f"event of {len(event)} bytes for function {spec.function_name} is larger than "
            f"Lambda's limit of {MAX_PAYLOAD_BYTES} bytes"
        )
    try:
        json.loads(event)
    except ValueError as error:
        raise InvalidRequestContentError(
            f"event for function {spec.function_name} is not valid JSON: {error}"
        ) from None
    return bytes(event)
