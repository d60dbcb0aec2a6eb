"""Workers that time out, die or run out of memory: the caller gets Lambda's error at once."""

from __future__ import annotations

import json
import os
import re
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

from infra.localcloud.runtime import InvocationResult, Runtime
from tests.runtime.runtime_support import SpecFactory

PID_FILE_WAIT_S = 10.0


def wait_for_pid(pid_file: Path) -> int:
    deadline = time.monotonic() + PID_FILE_WAIT_S
    while time.monotonic() < deadline:
        if pid_file.exists() and pid_file.read_text():
            return int(pid_file.read_text())
        time.sleep(0.01)
    raise TimeoutError(f"no worker wrote {pid_file} within {PID_FILE_WAIT_S} s")


def test_timeout_returns_error_within_a_second(runtime: Runtime, make_spec: SpecFactory) -> None:
    spec = make_spec("slow", "misbehaves.sleep", timeout_s=1)

    started = time.monotonic()
    result = runtime.invoke(spec, json.dumps({"sleep_s": 30}).encode())
    elapsed_s = time.monotonic() - started
    document = json.loads(result.payload)

    assert elapsed_s < 1 + 1.0
    assert result.function_error == "Unhandled"
    assert document["errorType"] == "Sandbox.Timedout"
    assert re.fullmatch(
        rf"\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}Z {result.request_id} "
        r"Task timed out after 1\.00 seconds",
        document["errorMessage"],
    )
    assert document["errorMessage"] in result.log_result
    assert "Status: timeout" in result.log_result.splitlines()[-1]
    assert runtime.stats("slow")["timeouts"] == 1


def test_timeout_replaces_the_worker(runtime: Runtime, make_spec: SpecFactory) -> None:
    spec = make_spec("slow", "misbehaves.sleep", timeout_s=1)
    timed_out = runtime.invoke(spec, json.dumps({"sleep_s": 30}).encode())

    after = runtime.invoke(spec, json.dumps({"sleep_s": 0}).encode())

    assert timed_out.function_error == "Unhandled"
    assert after.function_error is None
    assert after.cold_start is True
    assert runtime.stats("slow")["idle_workers"] == 1


def test_killed_worker_returns_exit_error(
    runtime: Runtime, make_spec: SpecFactory, tmp_path: Path
) -> None:
    spec = make_spec("victim", "misbehaves.sleep", timeout_s=60)
    pid_file = tmp_path / "worker.pid"
    results: list[InvocationResult] = []
    event = json.dumps({"sleep_s": 60, "pid_file": str(pid_file)}).encode()
    caller = threading.Thread(target=lambda: results.append(runtime.invoke(spec, event)))

    caller.start()
    os.kill(wait_for_pid(pid_file), signal.SIGKILL)
    killed_at = time.monotonic()
    caller.join(timeout=5)
    returned_after_s = time.monotonic() - killed_at

    assert not caller.is_alive()
    assert returned_after_s < 1.0
    document = json.loads(results[0].payload)
    assert results[0].function_error == "Unhandled"
    assert document == {
        "errorMessage": (
            f"RequestId: {results[0].request_id} Error: Runtime exited with error: signal: killed"
        ),
        "errorType": "Runtime.ExitError",
    }
    assert "Runtime.ExitError" in results[0].log_result


def test_killed_worker_is_replaced(
    runtime: Runtime, make_spec: SpecFactory, tmp_path: Path
) -> None:
    spec = make_spec("victim", "misbehaves.sleep", timeout_s=60)
    pid_file = tmp_path / "worker.pid"
    event = json.dumps({"sleep_s": 60, "pid_file": str(pid_file)}).encode()
    caller = threading.Thread(target=lambda: runtime.invoke(spec, event))
    caller.start()
    killed_pid = wait_for_pid(pid_file)
    os.kill(killed_pid, signal.SIGKILL)
    caller.join(timeout=5)

    after = runtime.invoke(spec, json.dumps({"sleep_s": 0}).encode())

    assert after.function_error is None
    assert after.cold_start is True
    assert json.loads(after.payload)["pid"] != killed_pid


def test_exit_status_is_reported(runtime: Runtime, make_spec: SpecFactory) -> None:
    spec = make_spec("exits", "misbehaves.exit_with_status")

    result = runtime.invoke(spec, json.dumps({"status": 3}).encode())
    document = json.loads(result.payload)

    assert document["errorType"] == "Runtime.ExitError"
    assert document["errorMessage"].endswith("Runtime exited with error: exit status 3")
    assert "exiting now" in result.log_result.splitlines()
    assert runtime.stats("exits")["idle_workers"] == 0


def test_segfault_is_reported_as_signal(runtime: Runtime, make_spec: SpecFactory) -> None:
    spec = make_spec("segfaults", "misbehaves.raise_signal")

    result = runtime.invoke(spec, json.dumps({"signal": int(signal.SIGSEGV)}).encode())
    document = json.loads(result.payload)

    assert document["errorType"] == "Runtime.ExitError"
    assert document["errorMessage"].endswith(
        "Runtime exited with error: signal: segmentation fault"
    )


def test_slow_init_counts_against_timeout(
    runtime_factory: Callable[..., Runtime], make_spec: SpecFactory
) -> None:
    runtime = runtime_factory(init_timeout_s=0.5)
    spec = make_spec(
        "slow-init", "slow_import.handler", timeout_s=3, environment={"SLOW_IMPORT_S": "1.5"}
    )

    result = runtime.invoke(spec, b"{}")
    remaining_ms = json.loads(result.payload)["remaining_ms"]

    assert result.function_error is None
    assert 1_000 < remaining_ms <= 2_000
    assert "slow import started" in result.log_result.splitlines()


def test_init_past_init_and_function_timeout_times_out(
    runtime_factory: Callable[..., Runtime], make_spec: SpecFactory
) -> None:
    runtime = runtime_factory(init_timeout_s=0.5)
    spec = make_spec(
        "stuck-init", "slow_import.handler", timeout_s=0.5, environment={"SLOW_IMPORT_S": "30"}
    )

    started = time.monotonic()
    result = runtime.invoke(spec, b"{}")
    elapsed_s = time.monotonic() - started
    document = json.loads(result.payload)

    assert elapsed_s < 1 + 1.0
    assert document["errorType"] == "Sandbox.Timedout"
    assert document["errorMessage"].endswith("Task timed out after 0.50 seconds")
    assert "slow import started" in result.log_result.splitlines()
    assert runtime.stats("stuck-init")["idle_workers"] == 0


def test_memory_over_limit_kills_worker(runtime: Runtime, make_spec: SpecFactory) -> None:
    spec = make_spec("hungry", "misbehaves.allocate", memory_mb=128, timeout_s=20)

    started = time.monotonic()
    result = runtime.invoke(spec, json.dumps({"mb": 200, "hold_s": 15}).encode())
    elapsed_s = time.monotonic() - started
    document = json.loads(result.payload)

    assert elapsed_s < 10
    assert result.function_error == "Unhandled"
    assert document["errorType"] == "Runtime.OutOfMemory"
    assert "Max Memory Used: 128 MB" in result.log_result


def test_memory_within_limit_succeeds(runtime: Runtime, make_spec: SpecFactory) -> None:
    spec = make_spec("fed", "misbehaves.allocate", memory_mb=512)

    result = runtime.invoke(spec, json.dumps({"mb": 100}).encode())
    report = result.log_result.splitlines()[-1]
    used_mb = int(re.search(r"Max Memory Used: (\d+) MB", report).group(1))

    assert result.function_error is None
    assert 100 < used_mb < 512
