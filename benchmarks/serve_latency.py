"""Serve latency and throughput over real HTTP with wrk, beside the usual design.

Trains one model on all Ames sales (default: random_forest, the first candidate of its
config/model.yaml grid), then measures in one run, each with wrk at 1 and at 16
connections, POST /predict with real Ames houses in turn:

1. the serve function through the local cloud's gateway (template.yaml deployed with
   usage-plan limits far above the load, the model published as the champion);
2. the same FastAPI app on uvicorn, without the gateway and the Lambda runtime
   (benchmarks/serve_bare_app.py);
3. the baseline: FastAPI on uvicorn with the scikit-learn pipeline from a pickle
   (benchmarks/serve_baseline_app.py).

wrk comes from Debian's `wrk` package; the script installs it with apt-get when it is
missing and it runs as root. wrk runs on the same 2 cores as the servers.

Usage: .venv/bin/python benchmarks/serve_latency.py [--strategy random_forest] [--duration 20]
Writes the section serve_latency_STRATEGY of benchmarks/results/serve.md.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import requests
from serve_common import (
    REPOSITORY,
    WrkResult,
    cached_model,
    deploy_unlimited,
    ensure_wrk,
    free_port,
    lua_script,
    machine_description,
    run_wrk,
    start_cloud,
    stop_cloud,
    table,
    write_section,
    wrk_version,
)

from tests.serve.serve_support import publish_champion, sample_houses

SERVER_START_TIMEOUT_S = 120
HOUSES = 200
CONNECTIONS = (1, 16)
WARM_UP_S = 10
REPORT_DURATION = re.compile(r"REPORT RequestId: \S+ Duration: ([\d.]+) ms")
# Aims of the serving design, for one client through the gateway.
AIM_P50_MS = 1.5
AIM_P99_MS = 5.0
AIM_SPEEDUP = 20.0


@contextmanager
def uvicorn_server(app: str, environment: dict[str, str], log: Path) -> Iterator[str]:
    """Run `uvicorn app` on a free port of 127.0.0.1; yield its URL and stop it after."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, cwd=REPOSITORY, env=environment, stdout=output, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise SystemExit(f"uvicorn {app} exited:\n{log.read_text()}")
            try:
                requests.get(f"{url}/docs", timeout=1)
                break
            except requests.RequestException:
                if time.monotonic() > deadline:
                    raise SystemExit(f"uvicorn {app} not ready:\n{log.read_text()}") from None
                time.sleep(0.2)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)


def measure(
    wrk: str, name: str, url: str, path: str, bodies: list[str], headers: dict[str, str],
    duration_s: int, folder: Path, function_durations: Callable[[], list[float]] | None = None,
) -> list[tuple[str, WrkResult, list[float]]]:  # fmt: skip
    """Run wrk at each of CONNECTIONS; with `function_durations`, also return the handler's
    REPORT durations of each run."""
    script = folder / f"{name}.lua"
    script.write_text(lua_script(path, bodies, {"Content-Type": "application/json", **headers}))
    # Warm-up at the highest concurrency, so that every worker has started and loaded the
    # model before the measured runs.
    run_wrk(wrk, url, script, max(CONNECTIONS), WARM_UP_S, warm_up=True)
    results = []
    for connections in CONNECTIONS:
        before = len(function_durations()) if function_durations else 0
        result = run_wrk(wrk, url, script, connections, duration_s)
        assert result is not None
        durations = function_durations()[before:] if function_durations else []
        print(f"{name}, {connections} connections: {result}", flush=True)
        results.append((name, result, durations))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--strategy", default="random_forest")
    parser.add_argument(
        "--model-cache",
        type=Path,
        default=None,
        help="Pickle of the trained model: read when it exists, else written after training.",
    )
    parser.add_argument("--duration", type=int, default=20, help="Seconds per wrk run.")
    arguments = parser.parse_args()

    wrk = ensure_wrk()
    machine = machine_description()
    result = cached_model(arguments.strategy, arguments.model_cache)
    houses = sample_houses(HOUSES)
    bodies = [json.dumps(house) for house in houses]

    with tempfile.TemporaryDirectory(prefix="serve-bench-") as directory:
        folder = Path(directory)
        cloud = start_cloud(folder / "state")
        try:
            api = deploy_unlimited(cloud)
            published = publish_champion(api.store(), api.outputs["ModelsBucketName"], result, "1")
            gateway_prefix = api.base_url.split(f":{cloud.port}", 1)[1]
            rows = measure(
                wrk,
                "gateway",
                cloud.endpoint_url,
                gateway_prefix + "predict",
                bodies,
                {"x-api-key": api.key},
                arguments.duration,
                folder,
                function_durations=lambda: [
                    float(value) for value in REPORT_DURATION.findall(api.function_log())
                ],
            )
            check = api.call("POST", "/predict", houses[0]).json()
            assert check["price_usd"] == published.prices(houses[:1])[0], check

            environment = {
                **os.environ,
                "AWS_ENDPOINT_URL": cloud.endpoint_url,
                "MODELS_BUCKET_NAME": api.outputs["ModelsBucketName"],
                "REPORTS_BUCKET_NAME": api.outputs["ReportsBucketName"],
                "AUDIT_LOG_DIR": str(folder / "audit"),
                "PYTHONPATH": f"{REPOSITORY}{os.pathsep}{REPOSITORY / 'benchmarks'}",
            }
            with uvicorn_server(
                "benchmarks.serve_bare_app:app", environment, folder / "b.log"
            ) as url:
                rows += measure(
                    wrk, "bare", url, "/predict", bodies, {}, arguments.duration, folder
                )

            pickle_path = folder / "model.pkl"
            pickle_path.write_bytes(pickle.dumps(result.estimator))
            environment["MHPE_BASELINE_PICKLE"] = str(pickle_path)
            with uvicorn_server(
                "benchmarks.serve_baseline_app:app", environment, folder / "baseline.log"
            ) as url:
                rows += measure(
                    wrk, "baseline", url, "/predict", bodies, {}, arguments.duration, folder
                )
        finally:
            stop_cloud(cloud)

    report(rows, arguments, machine, wrk_version(wrk), len(result.onnx_bytes))


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def report(
    rows: list[tuple[str, WrkResult, list[float]]],
    arguments: argparse.Namespace,
    machine: str,
    wrk: str,
    onnx_bytes: int,
) -> None:
    labels = {
        "gateway": "serve function through the local gateway (ONNX)",
        "bare": "same FastAPI app on uvicorn, no gateway (ONNX)",
        "baseline": "baseline: FastAPI on uvicorn, scikit-learn pickle",
    }
    table_rows = []
    for name, result, durations in rows:
        inside = (
            f"{statistics.median(durations):.2f} / {percentile(durations, 0.99):.2f}"
            if durations
            else ""
        )
        table_rows.append(
            [
                labels[name],
                result.connections,
                result.requests,
                f"{result.p50_ms:.2f}",
                f"{result.p90_ms:.2f}",
                f"{result.p99_ms:.2f}",
                f"{result.requests_per_s:,.0f}",
                result.non_2xx + result.socket_errors,
                inside,
            ]
        )
    by_run = {(name, result.connections): result for name, result, _ in rows}
    gateway_1 = by_run[("gateway", 1)]
    gateway_16 = by_run[("gateway", 16)]
    baseline_1 = by_run[("baseline", 1)]
    speedup = gateway_1.requests_per_s / baseline_1.requests_per_s
    failures = sum(result.non_2xx + result.socket_errors for _, result, _ in rows)
    header = [
        "server", "connections", "requests", "p50 ms", "p90 ms", "p99 ms", "requests/s",
        "failed", "handler p50 / p99 ms",
    ]  # fmt: skip

    def verdict(reached: bool) -> str:
        return "reached" if reached else "missed"

    markdown = f"""
## Latency and throughput of POST /predict, {arguments.strategy}

Measured {date.today()} with `benchmarks/serve_latency.py --strategy {arguments.strategy}
--duration {arguments.duration}` on {machine}. Load tool: {wrk} (Debian package `wrk`), on
the same cores as the servers.

Model: {arguments.strategy} trained on the Ames sales before the last 12 months (first
candidate of its config/model.yaml grid); ONNX file {onnx_bytes / 1024:,.0f} KiB. Each
request prices one of {HOUSES} real Ames houses, in turn. Each run lasts
{arguments.duration} s after a {WARM_UP_S} s warm-up at 16 connections. Failed means non-2xx
responses and socket errors. "handler" is the Duration of the function's REPORT lines in
that run: the time inside the worker, without the gateway's HTTP server, API key and usage
plan checks and the worker's pipe.

{table(header, table_rows)}

Aims at 1 client through the gateway: p50 at most {AIM_P50_MS} ms: {gateway_1.p50_ms:.2f} ms,
{verdict(gateway_1.p50_ms <= AIM_P50_MS)}. p99 at most {AIM_P99_MS} ms: {gateway_1.p99_ms:.2f}
ms, {verdict(gateway_1.p99_ms <= AIM_P99_MS)}. Throughput at least {AIM_SPEEDUP:.0f} times the
baseline's at 1 client: {speedup:.1f} times, {verdict(speedup >= AIM_SPEEDUP)}. At 16
connections the gateway served {gateway_16.requests_per_s:,.0f} requests/s. Failed requests in
all runs: {failures}.
"""
    write_section(f"serve_latency_{arguments.strategy}", markdown)


if __name__ == "__main__":
    main()
