"""Measure the local cloud's function runtime: warm and cold invokes, and S3 event delay.

Starts a local cloud (without MLflow) on free ports, deploys the integration tests' stack, and
compares, side by side in one run:
- a warm invoke through the Lambda API (boto3 over HTTP) with calling the same handler
  in-process;
- a cold start: the first invoke after the function's configuration changed;
- the delay from an S3 PutObject returning to the notified handler starting.

Usage: .venv/bin/python benchmarks/localcloud_latency.py [--repeats 200]
Writes benchmarks/results/localcloud.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY))

from tests.integration.conftest import (
    FIXTURES,
    deploy_fixture_stack,
    run_mhpe,
    start_cloud,
)

RESULTS = Path(__file__).parent / "results" / "localcloud.md"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def machine_description() -> str:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    import os

    return (
        f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}, {platform.platform()}"
    )


def measure_in_process(repeats: int) -> list[float]:
    sys.path[:0] = [str(FIXTURES / "functions"), str(FIXTURES / "layer")]
    import app  # the fixture handlers

    class Context:
        function_name = "in-process"
        aws_request_id = "in-process"
        memory_limit_in_mb = 256
        invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:in-process"

        def get_remaining_time_in_millis(self) -> int:
            return 10_000

    timings = []
    for index in range(repeats):
        payload = json.dumps({"n": index}).encode()
        started = time.perf_counter()
        result = app.echo(json.loads(payload), Context())
        json.dumps(result).encode()
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()

    state_dir = Path(tempfile.mkdtemp(prefix="mhpe-bench-"))
    cloud = start_cloud(state_dir)
    try:
        deploy_fixture_stack(cloud)
        lambda_client = cloud.client("lambda")
        echo = cloud.function_name("EchoFunction")
        lambda_client.invoke(FunctionName=echo, Payload=b"{}")  # warm the worker and client

        warm = []
        for index in range(args.repeats):
            started = time.perf_counter()
            lambda_client.invoke(FunctionName=echo, Payload=json.dumps({"n": index}).encode())
            warm.append((time.perf_counter() - started) * 1000)
        in_process = measure_in_process(args.repeats)

        cold = []
        for index in range(10):
            lambda_client.update_function_configuration(
                FunctionName=echo, Environment={"Variables": {"GREETING": f"cold-{index}"}}
            )
            started = time.perf_counter()
            lambda_client.invoke(FunctionName=echo, Payload=b"{}")
            cold.append((time.perf_counter() - started) * 1000)

        s3 = cloud.client("s3")
        bucket_in = cloud.outputs["InputBucketName"]
        bucket_out = cloud.outputs["OutputBucketName"]
        delays = []
        upload_ms = []
        for index in range(20):
            key = f"incoming/bench-{index}.csv"
            sent = time.time()
            s3.put_object(Bucket=bucket_in, Key=key, Body=b"x\n")
            upload_ms.append((time.time() - sent) * 1000)
            deadline = time.monotonic() + 30
            found = None
            while found is None and time.monotonic() < deadline:
                for item in s3.list_objects_v2(Bucket=bucket_out, Prefix="events/").get(
                    "Contents", []
                ):
                    body = s3.get_object(Bucket=bucket_out, Key=item["Key"])["Body"].read()
                    if f'"key": "{key}"' in body.decode():
                        found = json.loads(body)["_started_at"]
                        s3.delete_object(Bucket=bucket_out, Key=item["Key"])
                        break
                time.sleep(0.02)
            if found is None:
                raise RuntimeError(f"no event delivered for {key} within 30 s")
            delays.append((found - sent) * 1000)
    finally:
        run_mhpe(state_dir, "cloud", "down", check=False)

    rows = [
        ("warm invoke via Lambda API", warm),
        ("same handler in-process", in_process),
        ("cold start (first invoke after a config change)", cold),
        ("S3 PutObject call (client side)", upload_ms),
        ("S3 PutObject sent to handler started", delays),
    ]
    lines = [
        "## Local cloud function runtime",
        "",
        f"Machine: {machine_description()}.",
        (
            f"Script: `benchmarks/localcloud_latency.py --repeats {args.repeats}`, "
            f"run {time.strftime('%Y-%m-%d')}."
        ),
        "",
        "| measurement | n | p50 ms | p90 ms | p99 ms |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name, values in rows:
        lines.append(
            f"| {name} | {len(values)} | {statistics.median(values):.2f} | "
            f"{percentile(values, 0.9):.2f} | {percentile(values, 0.99):.2f} |"
        )
    ratio = statistics.median(warm) / statistics.median(in_process)
    lines += [
        "",
        (
            f"A warm invoke through the API costs {ratio:,.0f} times the in-process call "
            f"({statistics.median(warm):.2f} ms against {statistics.median(in_process):.3f} ms):"
            " the HTTP round trip, moto's request parsing and the worker's pipe."
        ),
        (
            "The S3 delay runs from the client sending PutObject to the handler's first line, "
            "both read from the same clock; delivery is asynchronous, so the handler may start "
            "before the client has read the PutObject response."
        ),
        "",
    ]
    RESULTS.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
