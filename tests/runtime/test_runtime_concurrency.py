"""Concurrency limits, async retries, revisions and idle expiry of the function runtime."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from infra.localcloud.runtime import InvocationResult, Runtime, TooManyRequestsError
from tests.runtime.runtime_support import SpecFactory

WAIT_S = 10.0


def wait_until(condition: Callable[[], bool], timeout_s: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition still false after {timeout_s} s")
        time.sleep(0.01)


def read_attempts(attempts_file: Path) -> list[tuple[str, float]]:
    rows = [line.split() for line in attempts_file.read_text().splitlines()]
    return [(request_id, float(at)) for request_id, at in rows]


def test_reserved_concurrency_zero_throttles(runtime: Runtime, make_spec: SpecFactory) -> None:
    spec = make_spec("frozen", "counter.handler", reserved_concurrency=0)

    with pytest.raises(TooManyRequestsError) as raised:
        runtime.invoke(spec, b"{}")

    assert raised.value.aws_message == "Rate Exceeded."
    assert raised.value.reserved_concurrency == 0
    assert runtime.stats("frozen")["throttles"] == 1
    assert runtime.stats("frozen")["cold_starts"] == 0


def test_reserved_concurrency_one_throttles_second_call(
    runtime: Runtime, make_spec: SpecFactory
) -> None:
    spec = make_spec("single", "misbehaves.sleep", reserved_concurrency=1, timeout_s=10)
    results: list[InvocationResult] = []
    event = json.dumps({"sleep_s": 1}).encode()
    first = threading.Thread(target=lambda: results.append(runtime.invoke(spec, event)))

    first.start()
    wait_until(lambda: runtime.stats("single")["running"] == 1)
    with pytest.raises(TooManyRequestsError, match="reserved concurrency of 1"):
        runtime.invoke(spec, event)
    first.join(timeout=WAIT_S)

    assert results[0].function_error is None
    assert runtime.stats("single")["throttles"] == 1


def test_unreserved_calls_wait_for_a_worker(
    runtime_factory: Callable[..., Runtime], make_spec: SpecFactory
) -> None:
    runtime = runtime_factory(max_workers_per_function=1)
    spec = make_spec("queue", "misbehaves.sleep", timeout_s=10)
    results: list[InvocationResult] = []
    event = json.dumps({"sleep_s": 0.5}).encode()
    callers = [
        threading.Thread(target=lambda: results.append(runtime.invoke(spec, event)))
        for _ in range(2)
    ]

    started = time.monotonic()
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join(timeout=WAIT_S)
    elapsed_s = time.monotonic() - started

    assert [result.function_error for result in results] == [None, None]
    assert elapsed_s >= 1.0
    assert runtime.stats("queue")["cold_starts"] == 1
    assert runtime.stats("queue")["warm_starts"] == 1


def test_async_event_runs_in_background(
    runtime: Runtime, make_spec: SpecFactory, tmp_path: Path
) -> None:
    spec = make_spec("recorder", "misbehaves.record_attempt")
    attempts_file = tmp_path / "attempts.txt"

    request_id = runtime.invoke_async(
        spec, json.dumps({"attempts_file": str(attempts_file)}).encode()
    )

    assert runtime.wait_idle(WAIT_S)
    assert [attempt[0] for attempt in read_attempts(attempts_file)] == [request_id]
    assert runtime.stats("recorder")["async_retries"] == 0


def test_async_failure_retried_twice_then_dropped(
    runtime: Runtime, make_spec: SpecFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spec = make_spec("flaky", "misbehaves.record_attempt")
    attempts_file = tmp_path / "attempts.txt"
    event = json.dumps({"attempts_file": str(attempts_file), "fail": True}).encode()
    caplog.set_level(logging.WARNING, logger="infra.localcloud.runtime")

    request_id = runtime.invoke_async(spec, event)
    assert runtime.wait_idle(WAIT_S)
    attempts = read_attempts(attempts_file)
    stats = runtime.stats("flaky")

    assert [attempt[0] for attempt in attempts] == [request_id] * 3
    assert attempts[1][1] - attempts[0][1] >= 0.2
    assert attempts[2][1] - attempts[1][1] >= 0.4
    assert stats["async_retries"] == 2
    assert stats["async_failures"] == 1
    assert stats["queued"] == 0
    assert "retry 1 of 2" in caplog.text
    assert "retry 2 of 2" in caplog.text
    assert f"async request {request_id} of flaky failed 3 times" in caplog.text


def test_async_timeout_is_retried(runtime: Runtime, make_spec: SpecFactory) -> None:
    spec = make_spec("slow-async", "misbehaves.sleep", timeout_s=0.3)

    runtime.invoke_async(spec, json.dumps({"sleep_s": 5}).encode())

    assert runtime.wait_idle(WAIT_S)
    assert runtime.stats("slow-async")["timeouts"] == 3
    assert runtime.stats("slow-async")["async_failures"] == 1


def test_throttled_async_event_waits_for_concurrency(
    runtime: Runtime, make_spec: SpecFactory, tmp_path: Path
) -> None:
    frozen = make_spec("gated", "misbehaves.record_attempt", reserved_concurrency=0)
    attempts_file = tmp_path / "attempts.txt"
    request_id = runtime.invoke_async(
        frozen, json.dumps({"attempts_file": str(attempts_file)}).encode()
    )
    wait_until(lambda: runtime.stats("gated")["throttles"] >= 2)

    assert not runtime.wait_idle(0.1)
    assert runtime.stats("gated")["queued"] == 1
    runtime.update(dataclasses.replace(frozen, reserved_concurrency=1))

    assert runtime.wait_idle(WAIT_S)
    assert [attempt[0] for attempt in read_attempts(attempts_file)] == [request_id]


def test_revision_change_replaces_pool(runtime: Runtime, make_spec: SpecFactory) -> None:
    old = make_spec("deployed", "counter.handler", revision="a")
    new = dataclasses.replace(old, revision="b")
    runtime.invoke(old, b"{}")
    old_payload = json.loads(runtime.invoke(old, b"{}").payload)

    result = runtime.invoke(new, b"{}")
    new_payload = json.loads(result.payload)

    assert old_payload["calls"] == 2
    assert new_payload["calls"] == 1
    assert result.cold_start is True
    assert new_payload["pid"] != old_payload["pid"]
    with pytest.raises(ProcessLookupError):
        os.kill(old_payload["pid"], 0)


def test_environment_change_replaces_pool(runtime: Runtime, make_spec: SpecFactory) -> None:
    spec = make_spec("configured", "counter.handler", environment={"STAGE": "dev"})
    runtime.invoke(spec, b"{}")

    result = runtime.invoke(dataclasses.replace(spec, environment={"STAGE": "prod"}), b"{}")

    assert result.cold_start is True
    assert json.loads(result.payload)["calls"] == 1


def test_busy_worker_of_old_revision_stops_after_call(
    runtime: Runtime, make_spec: SpecFactory
) -> None:
    old = make_spec("rolling", "misbehaves.sleep", revision="a", timeout_s=10)
    new = dataclasses.replace(old, revision="b")
    results: list[InvocationResult] = []
    slow_event = json.dumps({"sleep_s": 0.5}).encode()
    caller = threading.Thread(target=lambda: results.append(runtime.invoke(old, slow_event)))
    caller.start()
    wait_until(lambda: runtime.stats("rolling")["running"] == 1)

    runtime.invoke(new, json.dumps({"sleep_s": 0}).encode())
    caller.join(timeout=WAIT_S)

    old_pid = json.loads(results[0].payload)["pid"]
    assert results[0].function_error is None
    assert runtime.stats("rolling")["idle_workers"] == 1
    with pytest.raises(ProcessLookupError):
        os.kill(old_pid, 0)


def test_idle_workers_expire_after_ttl(
    runtime_factory: Callable[..., Runtime], make_spec: SpecFactory
) -> None:
    runtime = runtime_factory(idle_worker_ttl_s=0.3)
    spec = make_spec("short-lived", "counter.handler")
    pid = json.loads(runtime.invoke(spec, b"{}").payload)["pid"]

    wait_until(lambda: runtime.stats("short-lived")["idle_workers"] == 0, timeout_s=5)
    result = runtime.invoke(spec, b"{}")

    assert result.cold_start is True
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_remove_stops_workers_and_drops_events(
    runtime: Runtime, make_spec: SpecFactory, tmp_path: Path
) -> None:
    spec = make_spec("deleted", "misbehaves.record_attempt", reserved_concurrency=0)
    runtime.invoke_async(spec, json.dumps({"attempts_file": str(tmp_path / "a.txt")}).encode())

    runtime.remove("deleted")

    assert runtime.wait_idle(WAIT_S)
    assert runtime.stats("deleted")["queued"] == 0
    assert not (tmp_path / "a.txt").exists()
