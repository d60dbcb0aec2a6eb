"""Cold start of the serve function: the first request after a deploy, through the gateway.

Deploys template.yaml on a fresh local cloud and publishes a model trained on the Ames
sales (default: random_forest, as serve_latency.py). Then it times, from the client, the
first POST /predict of a new worker: the worker's process start, the imports, the
champion's download and load, and the request. Each repeat changes the function's configuration through the
Lambda API (one environment variable), so that the runtime starts a new worker as Lambda
does after a deploy. The function's REPORT line gives the init duration on its own.

Usage: .venv/bin/python benchmarks/serve_cold_start.py [--repeats 10]
Writes the section serve_cold_start_STRATEGY of benchmarks/results/serve.md.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

from serve_common import (
    cached_model,
    deploy_unlimited,
    machine_description,
    start_cloud,
    stop_cloud,
    table,
    write_section,
)

from tests.integration.conftest import wait_for
from tests.serve.gateway_support import PricingApi
from tests.serve.serve_support import publish_champion, sample_houses

AIM_MS = 400.0
WARM_REQUESTS = 50
INIT_DURATION = re.compile(r"REPORT RequestId: (\S+).*?Init Duration: ([\d.]+) ms")


def function_name(api: PricingApi) -> str:
    stack = json.loads((api.cloud.state_dir / "stacks" / "mhpe.json").read_text())
    return stack["resources"]["ServeFunction"]["PhysicalResourceId"]


def force_new_worker(api: PricingApi, repeat: int) -> None:
    """Change one environment variable, which gives the function a new revision."""
    client = api.cloud.client("lambda")
    name = function_name(api)
    variables = client.get_function_configuration(FunctionName=name)["Environment"]["Variables"]
    variables["COLD_START_REPEAT"] = str(repeat)
    client.update_function_configuration(FunctionName=name, Environment={"Variables": variables})


def init_durations_ms(api: PricingApi) -> list[float]:
    return [float(match[2]) for match in INIT_DURATION.finditer(api.function_log())]


def timed_request(api: PricingApi, house: dict) -> float:
    started = time.perf_counter()
    response = api.call("POST", "/predict", house)
    elapsed_ms = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise SystemExit(f"POST /predict returned {response.status_code}: {response.text}")
    return elapsed_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--strategy", default="random_forest")
    parser.add_argument(
        "--model-cache",
        type=Path,
        default=None,
        help="Pickle of the trained model: read when it exists, else written after training.",
    )
    parser.add_argument("--repeats", type=int, default=10)
    arguments = parser.parse_args()

    machine = machine_description()
    result = cached_model(arguments.strategy, arguments.model_cache)
    house = sample_houses(1)[0]
    cold_ms: list[float] = []
    with tempfile.TemporaryDirectory(prefix="serve-cold-") as directory:
        cloud = start_cloud(Path(directory) / "state")
        try:
            api = deploy_unlimited(cloud)
            publish_champion(api.store(), api.outputs["ModelsBucketName"], result, "1")
            first_after_deploy_ms = timed_request(api, house)
            warm_ms = [timed_request(api, house) for _ in range(WARM_REQUESTS)]
            for repeat in range(arguments.repeats):
                force_new_worker(api, repeat)
                cold_ms.append(timed_request(api, house))
                print(f"cold start {repeat + 1}: {cold_ms[-1]:.0f} ms", flush=True)

            def all_reports() -> list[float] | None:
                found = init_durations_ms(api)
                return found if len(found) >= arguments.repeats + 1 else None

            inits = wait_for(all_reports, 30, "REPORT lines with init durations")
        finally:
            stop_cloud(cloud)

    rows = [
        ["first request after the deploy", 1, f"{first_after_deploy_ms:.0f}", "", ""],
        [
            "first request of a new worker",
            len(cold_ms),
            f"{statistics.median(cold_ms):.0f}",
            f"{min(cold_ms):.0f}",
            f"{max(cold_ms):.0f}",
        ],
        [
            "init duration (REPORT line)",
            len(inits),
            f"{statistics.median(inits):.0f}",
            f"{min(inits):.0f}",
            f"{max(inits):.0f}",
        ],
        [
            "warm request, for comparison",
            len(warm_ms),
            f"{statistics.median(warm_ms):.1f}",
            f"{min(warm_ms):.1f}",
            f"{max(warm_ms):.1f}",
        ],
    ]
    median_cold = statistics.median([first_after_deploy_ms, *cold_ms])
    verdict = "reached" if median_cold < AIM_MS else "missed"
    markdown = f"""
## Cold start, {arguments.strategy}

Measured {date.today()} with `benchmarks/serve_cold_start.py --strategy {arguments.strategy}
--repeats {arguments.repeats}` on {machine}. Model: {arguments.strategy}, ONNX file
{len(result.onnx_bytes) / 1024:,.0f} KiB. Times are seen by the client over HTTP through the
gateway, in milliseconds; the init duration is the worker's own, from the import of the
handler to its readiness, model download and load included.

{table(["measurement", "n", "median ms", "min ms", "max ms"], rows)}

Aim: the first request after a deploy under {AIM_MS:.0f} ms. Median of the cold requests:
{median_cold:.0f} ms, {verdict}.
"""
    write_section(f"serve_cold_start_{arguments.strategy}", markdown)


if __name__ == "__main__":
    main()
