"""Helpers of the serve benchmarks: a local cloud with the stack, a model, wrk, the results page.

Each benchmark script writes its own section of benchmarks/results/serve.md, between
`<!-- begin NAME -->` and `<!-- end NAME -->`, and leaves the other sections as they are.
"""

from __future__ import annotations

import os
import pickle
import platform
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY))

from mhpe.data import load_ames
from mhpe.training import ModelConfig, TrainingResult, load_model_config, train

from tests.integration.conftest import CLIENT_ENVIRONMENT, Cloud, free_port, run_mhpe
from tests.serve.gateway_support import PricingApi, deploy_pricing_api

RESULTS = REPOSITORY / "benchmarks" / "results" / "serve.md"
# Usage-plan limits far above what a 2-core machine can send, so the gateway throttles nothing.
UNLIMITED = {"ApiRateLimit": "100000", "ApiBurstLimit": "100000", "ApiQuotaLimit": "1000000000"}

for _name, _value in CLIENT_ENVIRONMENT.items():
    os.environ.setdefault(_name, _value)


def machine_description() -> str:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    load = os.getloadavg()[0]
    return (
        f"nproc {os.cpu_count()}, {cpu}; Python {platform.python_version()}; "
        f"{platform.platform()}; load average (1 min) {load:.1f} at the start"
    )


def start_cloud(state_dir: Path) -> Cloud:
    """Start a local cloud without MLflow on a free port."""
    port = free_port()
    run_mhpe(state_dir, "cloud", "up", "--port", str(port), "--no-mlflow")
    return Cloud(state_dir, port, 0, outputs={})


def stop_cloud(cloud: Cloud) -> None:
    run_mhpe(cloud.state_dir, "cloud", "down", check=False)


def deploy_unlimited(cloud: Cloud, **parameters: str) -> PricingApi:
    return deploy_pricing_api(cloud, "mhpe", **{**UNLIMITED, **parameters})


def cached_model(strategy: str, cache: Path | None) -> TrainingResult:
    """Return the model of `train_model`, from the pickle `cache` when it exists.

    The pickle is written after training, so repeated runs skip the training.
    """
    if cache is not None and cache.exists():
        print(f"reading the trained model from {cache}", flush=True)
        return pickle.loads(cache.read_bytes())
    print(f"training {strategy} on the Ames sales", flush=True)
    result = train_model(strategy)
    if cache is not None:
        cache.write_bytes(pickle.dumps(result))
    return result


def train_model(strategy: str) -> TrainingResult:
    """Train `strategy` on all Ames sales with the first candidate of its config/model.yaml grid.

    The holdout is the last 12 months, as in config/model.yaml. The CV uses 2 folds, because
    the benchmark needs a realistic model, not the best parameters.
    """
    config = load_model_config()
    grid = {name: values[:1] for name, values in config.grids[strategy].items()}
    small = ModelConfig.from_mapping(
        {
            "strategy": strategy,
            "holdout_months": config.holdout_months,
            "cv_folds": 2,
            "max_living_area_sqft": config.max_living_area_sqft,
            "parity_tolerance": config.parity_tolerance,
            "n_jobs": 1,
            "grids": {strategy: grid},
        }
    )
    return train(load_ames(), small)


def ensure_wrk() -> str:
    """Return wrk's path, installing Debian's `wrk` package with apt-get when it is missing."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0:
        raise SystemExit("wrk is not installed; run `sudo apt-get install -y wrk` first")
    print("installing wrk with apt-get (Debian package wrk)", flush=True)
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("apt-get installed wrk, but it is not on PATH")
    return found


def wrk_version(wrk: str) -> str:
    completed = subprocess.run([wrk, "-v"], capture_output=True, text=True, check=False)
    first = (completed.stdout + completed.stderr).strip().splitlines()
    return first[0] if first else "wrk"


@dataclass(frozen=True)
class WrkResult:
    """Latency percentiles in milliseconds, throughput and failures of one wrk run."""

    connections: int
    requests: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    requests_per_s: float
    non_2xx: int
    socket_errors: int


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _duration_ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if match is None:
        raise ValueError(f"cannot read wrk duration {text!r}")
    return float(match[1]) * _UNITS_MS[match[2]]


def parse_wrk(output: str, connections: int) -> WrkResult:
    percentiles = dict(re.findall(r"^\s+(50|90|99)%\s+(\S+)\s*$", output, re.MULTILINE))
    requests = re.search(r"(\d+) requests in", output)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if set(percentiles) != {"50", "90", "99"} or requests is None or rate is None:
        raise ValueError(f"cannot read wrk's output:\n{output}")
    return WrkResult(
        connections=connections,
        requests=int(requests[1]),
        p50_ms=_duration_ms(percentiles["50"]),
        p90_ms=_duration_ms(percentiles["90"]),
        p99_ms=_duration_ms(percentiles["99"]),
        requests_per_s=float(rate[1]),
        non_2xx=int(non_2xx[1]) if non_2xx else 0,
        socket_errors=sum(int(value) for value in socket.groups()) if socket else 0,
    )


def lua_script(path: str, bodies: list[str], headers: dict[str, str]) -> str:
    """Build a wrk script that POSTs the bodies to `path` in turn, one per request."""
    header_lines = "\n".join(
        f'wrk.headers["{name}"] = "{value}"' for name, value in headers.items()
    )
    entries = ",\n".join(f"[==[{body}]==]" for body in bodies)
    return (
        f'wrk.method = "POST"\n{header_lines}\n'
        f"local bodies = {{\n{entries}\n}}\n"
        "local index = 0\n"
        "request = function()\n"
        "  index = index % #bodies + 1\n"
        f'  return wrk.format(nil, "{path}", nil, bodies[index])\n'
        "end\n"
    )


def run_wrk(
    wrk: str,
    url: str,
    script: Path,
    connections: int,
    duration_s: int,
    *,
    timeout_s: int = 10,
    warm_up: bool = False,
) -> WrkResult | None:
    """Run wrk and parse its report; return None for a warm-up, whose report is not read."""
    threads = 1 if connections == 1 else 2
    command = [
        wrk, f"-t{threads}", f"-c{connections}", f"-d{duration_s}s", f"--timeout={timeout_s}s",
        "--latency", "-s", str(script), url,
    ]  # fmt: skip
    completed = subprocess.run(
        command, capture_output=True, text=True, timeout=duration_s + 60, check=True
    )
    script.with_name(f"{script.stem}-{connections}.out").write_text(
        completed.stdout + completed.stderr
    )
    if warm_up:
        return None
    return parse_wrk(completed.stdout, connections)


def write_section(name: str, markdown: str, path: Path = RESULTS) -> None:
    """Replace the section `name` of the results page, or append it."""
    begin, end = f"<!-- begin {name} -->", f"<!-- end {name} -->"
    block = f"{begin}\n{markdown.strip()}\n{end}\n"
    text = path.read_text() if path.exists() else "# Serving: latency, cold start and size\n\n"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        _, tail = rest.split(end, 1)
        text = head + block + tail.lstrip("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + block
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    print(f"wrote section {name} of {path}")


def table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)
