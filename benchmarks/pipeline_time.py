"""Measure how long uploading the real Ames batches of 2006-2009 takes to reach a champion.

Starts a local cloud on free ports with its state in a temporary folder and deploys
template.yaml with the repository's config/, as the shared layer ships it. Then it writes the
monthly CSV batches as `mhpe data fetch` does and uploads the 48 batches of 2006-01 to
2009-12 through the S3 API one after another, as `awslocal s3 cp` would. It times:
- the upload itself;
- the first `champion` alias in MLflow with its ONNX file and manifest in the models bucket;
- the end of every pipeline execution.

With --one-at-a-time each upload waits until the previous batch's execution has finished,
as when batches arrive month by month: the train step then runs every time min_new_rows new
rows have accumulated, instead of once for the whole burst.

Usage: .venv/bin/python benchmarks/pipeline_time.py [--until 2009-12] [--timeout 900]
       [--one-at-a-time]
Writes its section of benchmarks/results/pipeline.md, keeping the other mode's section.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

REPOSITORY = Path(__file__).resolve().parents[1]
RESULTS = REPOSITORY / "benchmarks" / "results" / "pipeline.md"
CLIENT_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}
MODEL_NAME = "house-price"
CHAMPION_POINTER_KEY = "champion/manifest.json"
DEMO_LIMIT_S = 600
POLL_INTERVAL_S = 1.0


@dataclass
class DemoResult:
    """Timings (seconds from the first upload) and what the executions ended in."""

    batches: int
    upload_s: float
    champion_s: float | None = None
    all_done_s: float | None = None
    endings: Counter[str] = field(default_factory=Counter)
    trainings: list[dict[str, Any]] = field(default_factory=list)
    champion: dict[str, Any] | None = None
    setup_s: float = 0.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _mhpe(state_dir: Path, *args: str, timeout_s: float = 300) -> str:
    command = [sys.executable, "-m", "infra.cli", "--state-dir", str(state_dir), *args]
    completed = subprocess.run(
        command,
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env={**os.environ, **CLIENT_ENVIRONMENT},
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"mhpe {' '.join(args)} failed:\n{completed.stderr}")
    return completed.stdout


def _git_commit() -> str:
    completed = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=REPOSITORY, capture_output=True, text=True, check=False
    )
    return completed.stdout.strip() if completed.returncode == 0 else "unknown"


def start_and_deploy(state_dir: Path) -> tuple[str, dict[str, str]]:
    """Start a cloud on free ports, deploy template.yaml and return the endpoint and outputs."""
    port = _free_port()
    _mhpe(state_dir, "cloud", "up", "--port", str(port), "--mlflow-port", str(_free_port()))
    _mhpe(state_dir, "deploy", "--parameter-overrides", f"GitCommit={_git_commit()}")
    outputs = json.loads(_mhpe(state_dir, "outputs"))
    return f"http://127.0.0.1:{port}", outputs


def stop(state_dir: Path) -> None:
    _mhpe(state_dir, "cloud", "down")


def run_demo(
    endpoint_url: str,
    outputs: dict[str, str],
    batch_dir: Path,
    until_month: str,
    timeout_s: float,
    one_at_a_time: bool = False,
) -> DemoResult:
    """Upload the monthly CSV batches up to `until_month` and wait for every execution."""
    s3, sfn = _client("s3", endpoint_url), _client("stepfunctions", endpoint_url)
    paths = [path for path in sorted(batch_dir.glob("*.csv")) if path.stem <= until_month]

    started = time.monotonic()
    champion_s = None
    for number, path in enumerate(paths, start=1):
        s3.put_object(
            Bucket=outputs["RawBucketName"], Key=f"batches/{path.name}", Body=path.read_bytes()
        )
        if one_at_a_time:
            _wait_until_settled(sfn, outputs["TrainingPipelineArn"], number, started, timeout_s)
            if champion_s is None and _has_champion(s3, outputs["ModelsBucketName"]):
                champion_s = time.monotonic() - started
    result = DemoResult(
        batches=len(paths), upload_s=time.monotonic() - started, champion_s=champion_s
    )

    while time.monotonic() - started < timeout_s:
        elapsed = time.monotonic() - started
        if result.champion_s is None and _has_champion(s3, outputs["ModelsBucketName"]):
            result.champion_s = elapsed
        executions = sfn.list_executions(
            stateMachineArn=outputs["TrainingPipelineArn"], maxResults=1000
        )["executions"]
        running = [e for e in executions if e["status"] == "RUNNING"]
        if len(executions) >= len(paths) and not running:
            result.all_done_s = elapsed
            break
        time.sleep(POLL_INTERVAL_S)

    if result.champion_s is None and _has_champion(s3, outputs["ModelsBucketName"]):
        result.champion_s = time.monotonic() - started
    _collect_endings(sfn, outputs["TrainingPipelineArn"], result)
    if result.champion_s is not None:
        body = s3.get_object(Bucket=outputs["ModelsBucketName"], Key=CHAMPION_POINTER_KEY)
        result.champion = json.loads(body["Body"].read())
    return result


def _client(service: str, endpoint_url: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint_url,
        region_name=CLIENT_ENVIRONMENT["AWS_DEFAULT_REGION"],
        aws_access_key_id=CLIENT_ENVIRONMENT["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CLIENT_ENVIRONMENT["AWS_SECRET_ACCESS_KEY"],
    )


def _wait_until_settled(
    sfn: Any, state_machine_arn: str, count: int, started: float, timeout_s: float
) -> None:
    while time.monotonic() - started < timeout_s:
        executions = sfn.list_executions(stateMachineArn=state_machine_arn, maxResults=1000)
        finished = [e for e in executions["executions"] if e["status"] != "RUNNING"]
        if len(finished) >= count:
            return
        time.sleep(POLL_INTERVAL_S / 4)
    raise TimeoutError(f"execution {count} did not finish within {timeout_s:.0f} s")


def _has_champion(s3: Any, bucket: str) -> bool:
    response = s3.list_objects_v2(Bucket=bucket, Prefix=CHAMPION_POINTER_KEY)
    return bool(response.get("Contents"))


def _collect_endings(sfn: Any, state_machine_arn: str, result: DemoResult) -> None:
    executions = sfn.list_executions(stateMachineArn=state_machine_arn, maxResults=1000)
    for execution in executions["executions"]:
        description = sfn.describe_execution(executionArn=execution["executionArn"])
        output = json.loads(description.get("output") or "{}")
        training = output.get("training") or {}
        if description["status"] != "SUCCEEDED":
            ending = f"{description['status']} {description.get('error', '')}".strip()
        elif training.get("trained"):
            decision = "promoted" if output.get("promotion") else "champion kept"
            ending = f"trained, {decision}"
        else:
            ending = "curated, training skipped"
        result.endings[ending] += 1
        if training.get("trained"):
            result.trainings.append(
                {
                    "execution": execution["name"],
                    "version": training["model_version"],
                    "curated_rows": training["decision"]["curated_rows"],
                    "rmse_log": training["metrics"]["rmse_log"],
                    "rmse_usd": training["metrics"]["rmse_usd"],
                    "promoted": bool(output.get("promotion")),
                }
            )


def _machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"nproc {os.cpu_count()}, {cpu}; Python {platform.python_version()}; "
        f"{platform.platform()}; load average {load:.1f} at the start (the machine is shared)"
    )


def write_results(result: DemoResult, until_month: str, machine: str, one_at_a_time: bool) -> None:
    champion = result.champion or {}
    flag = " --one-at-a-time" if one_at_a_time else ""
    pace = (
        "each after the previous batch's execution had finished"
        if one_at_a_time
        else "one after another without waiting"
    )
    lines = [
        "## Pipeline time: from uploads to a champion"
        + (", one batch at a time" if one_at_a_time else ""),
        "",
        (
            f"Measured {datetime.date.today().isoformat()} with `benchmarks/pipeline_time.py "
            f"--until {until_month}{flag}` on {machine}."
        ),
        "",
        (
            f"The {result.batches} real Ames monthly CSV batches of 2006-01 to {until_month} were "
            f"uploaded {pace} through the S3 API to a fresh local cloud with "
            "template.yaml deployed and the repository's config/ (strategy "
            f"{champion.get('strategy', '?')}, min_new_rows {_min_new_rows()}). Times count from the "
            f"first upload; starting the cloud and deploying took {result.setup_s:.0f} s before."
        ),
        "",
        "| milestone | seconds |",
        "| --- | ---: |",
        f"| all {result.batches} batches uploaded | {result.upload_s:.1f} |",
        (
            f"| champion in MLflow, its ONNX file and manifest in the models bucket | "
            f"{_seconds(result.champion_s)} |"
        ),
        f"| every execution finished | {_seconds(result.all_done_s)} |",
        "",
        "| execution ended | count |",
        "| --- | ---: |",
        *[f"| {ending} | {count} |" for ending, count in sorted(result.endings.items())],
        "",
        "| trained version | curated rows | holdout rmse_log | holdout RMSE (USD) | promoted |",
        "| --- | ---: | ---: | ---: | --- |",
        *[
            f"| {t['version']} | {t['curated_rows']} | {t['rmse_log']:.4f} | "
            f"{t['rmse_usd']:,.0f} | {'yes' if t['promoted'] else 'no'} |"
            for t in sorted(result.trainings, key=lambda t: int(t["version"]))
        ],
        "",
    ]
    if champion:
        lines.append(
            f"Champion: version {champion['version']} ({champion['strategy']}), holdout "
            f"{champion['holdout_months'][0]} to {champion['holdout_months'][1]}, rmse_log "
            f"{champion['metrics']['rmse_log']:.4f}, MAPE {champion['metrics']['mape_pct']:.1f} %; "
            f"the neighbourhood-median baseline's rmse_log "
            f"{champion['baseline_metrics']['rmse_log']:.4f}."
        )
    done = result.all_done_s is not None and result.all_done_s <= DEMO_LIMIT_S
    lines.append(
        f"Aim: every execution finished within {DEMO_LIMIT_S // 60} minutes on 2 cores: "
        f"{'reached' if done else 'missed'}."
    )
    _replace_section(RESULTS, "\n".join(lines) + "\n")


def _replace_section(path: Path, section: str) -> None:
    """Write `section` into the Markdown file, replacing the section with the same heading."""
    heading = section.splitlines()[0]
    sections = []
    if path.exists():
        text = path.read_text()
        sections = ["## " + part for part in text.split("## ")[1:]]
    kept = [part for part in sections if part.splitlines()[0] != heading]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(part.rstrip("\n") + "\n" for part in [*kept, section]))


def _min_new_rows() -> int:
    from mhpe.pipeline.settings import load_pipeline_settings

    return load_pipeline_settings(REPOSITORY / "config" / "pipeline.yaml").min_new_rows


def _seconds(value: float | None) -> str:
    return f"{value:.0f}" if value is not None else "not reached"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--until", default="2009-12", help="last sale month uploaded (YYYY-MM)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds to wait at most")
    parser.add_argument(
        "--one-at-a-time",
        action="store_true",
        help="upload each batch only after the previous batch's execution finished",
    )
    arguments = parser.parse_args()
    os.environ.update(CLIENT_ENVIRONMENT)

    from mhpe.data import load_ames, write_monthly_batches

    machine = _machine()
    with tempfile.TemporaryDirectory(prefix="mhpe-pipeline-time-") as directory:
        state_dir, batch_dir = Path(directory) / "state", Path(directory) / "batches"
        write_monthly_batches(load_ames(), batch_dir, formats=("csv",))
        setup_started = time.monotonic()
        endpoint_url, outputs = start_and_deploy(state_dir)
        setup_s = time.monotonic() - setup_started
        try:
            result = run_demo(
                endpoint_url,
                outputs,
                batch_dir,
                arguments.until,
                arguments.timeout,
                arguments.one_at_a_time,
            )
        finally:
            stop(state_dir)
    result.setup_s = setup_s
    write_results(result, arguments.until, machine, arguments.one_at_a_time)
    print(RESULTS.read_text())


if __name__ == "__main__":
    main()
