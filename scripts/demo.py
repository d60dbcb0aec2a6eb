"""The main job, end to end on the local cloud: real Ames sales in, a price out.

Run by `make demo`. It starts the local cloud if it is not running, deploys template.yaml,
writes the real Ames monthly batches, uploads 2006-2009 through S3 as a user would, waits for
the training pipeline to promote a champion, then calls the API: a real 2010 house with its
predicted and actual price, the 403 without a key, and the 429 beyond the burst. The cloud
keeps running afterwards; `make down` stops it.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import requests
from botocore.exceptions import ClientError

REPOSITORY = Path(__file__).resolve().parents[1]
MHPE = [sys.executable, "-m", "infra.cli"]
BATCHES = REPOSITORY / "data" / "batches"
TRAINING_MONTHS = [f"{year}-{month:02d}" for year in range(2006, 2010) for month in range(1, 13)]
DEMO_MONTH = "2010-03"
PIPELINE_TIMEOUT_S = 540
# An upload starts its execution within seconds; this long without one means ingest failed.
NO_EXECUTION_TIMEOUT_S = 90
POLL_INTERVAL_S = 3.0
CHAMPION_ALIAS = "champion"
MANIFEST_KEY = "champion/manifest.json"
STARTED = time.monotonic()


class DemoError(Exception):
    """A failed demo step, whose message names the step and where to look."""


def step(message: str) -> None:
    print(f"[{time.monotonic() - STARTED:6.1f} s] {message}", flush=True)


def mhpe(*args: str) -> str:
    result = subprocess.run(
        [*MHPE, *args], cwd=REPOSITORY, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        sys.exit(f"mhpe {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def ensure_cloud() -> dict:
    """Start the local cloud unless it runs, and return `mhpe cloud status` as a dict."""
    status = subprocess.run(
        [*MHPE, "cloud", "status"], cwd=REPOSITORY, capture_output=True, text=True, check=False
    )
    if status.returncode == 0:
        running = json.loads(status.stdout)
        step(f"the local cloud already runs on {running['endpoint_url']}")
        return running
    step("starting the local cloud")
    print(mhpe("cloud", "up"), end="")
    return json.loads(mhpe("cloud", "status"))


def client(service: str, endpoint: str):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def upload_batches(s3, bucket: str) -> int:
    uploaded = 0
    for month in TRAINING_MONTHS:
        path = BATCHES / f"{month}.csv"
        key = f"batches/{path.name}"
        body = path.read_bytes()
        try:
            existing = s3.head_object(Bucket=bucket, Key=key)["ETag"].strip('"')
        except s3.exceptions.ClientError:
            existing = None
        if existing == hashlib.md5(body).hexdigest():
            continue
        s3.put_object(Bucket=bucket, Key=key, Body=body)
        uploaded += 1
    return uploaded


def read_manifest(s3, models_bucket: str) -> dict | None:
    """Return the published champion's manifest, or None before the first promotion."""
    try:
        body = s3.get_object(Bucket=models_bucket, Key=MANIFEST_KEY)["Body"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return None
        raise
    return json.loads(body.read())


def champion_alias_version(mlflow_url: str, model_name: str) -> str | None:
    """Return the model version that MLflow's champion alias names, or None when unset."""
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=mlflow_url)
    try:
        return str(client.get_model_version_by_alias(model_name, CHAMPION_ALIAS).version)
    except mlflow.exceptions.MlflowException:
        return None


def published_champion(s3, models_bucket: str, mlflow_url: str) -> dict | None:
    """Return the manifest when it and MLflow's champion alias name the same version."""
    manifest = read_manifest(s3, models_bucket)
    if manifest is None:
        return None
    alias_version = champion_alias_version(mlflow_url, manifest["model_name"])
    return manifest if alias_version == str(manifest["version"]) else None


def wait_for_champion(
    s3,
    sfn,
    *,
    models_bucket: str,
    pipeline_arn: str,
    mlflow_url: str,
    uploaded: int,
    uploads_started_at: float,
    timeout_s: float = PIPELINE_TIMEOUT_S,
    no_execution_timeout_s: float = NO_EXECUTION_TIMEOUT_S,
    poll_interval_s: float = POLL_INTERVAL_S,
) -> dict:
    """Wait until the uploads' executions have ended and a champion is published.

    `uploads_started_at` is the epoch time in seconds before the first upload, so executions
    of earlier runs do not count. With nothing uploaded, a champion that already exists (a
    second run, or a restarted cloud, which keeps no executions) ends the wait at once.
    Raises DemoError when no execution runs and none started for `no_execution_timeout_s`
    while some uploads have none, when every execution ended without a champion, or after
    `timeout_s`.
    """
    started = time.monotonic()
    last_report = None
    last_progress = started
    seen_executions = 0
    while time.monotonic() - started < timeout_s:
        executions = [
            execution
            for execution in sfn.list_executions(stateMachineArn=pipeline_arn, maxResults=1000)[
                "executions"
            ]
            if execution["startDate"].timestamp() >= uploads_started_at - 1
        ]
        counts: dict[str, int] = {}
        for execution in executions:
            counts[execution["status"]] = counts.get(execution["status"], 0) + 1
        report = ", ".join(f"{count} {status.lower()}" for status, count in sorted(counts.items()))
        if report != last_report:
            step(f"executions since the upload: {report or 'none yet'}")
            last_report = report

        if len(executions) != seen_executions:
            seen_executions = len(executions)
            last_progress = time.monotonic()
        running = counts.get("RUNNING", 0)
        if len(executions) >= uploaded and running == 0:
            champion = published_champion(s3, models_bucket, mlflow_url)
            if champion is not None:
                return champion
            if uploaded > 0:
                raise DemoError(
                    f"all {len(executions)} executions ended ({report}) but no champion was "
                    f"published to s3://{models_bucket}/{MANIFEST_KEY}; see "
                    "`mhpe cloud logs TrainFunction` and the execution history"
                )
            raise DemoError(
                "every batch was uploaded before, but no champion is published in "
                f"s3://{models_bucket}/{MANIFEST_KEY} with MLflow's {CHAMPION_ALIAS!r} alias "
                f"at {mlflow_url}; start a training with `mhpe cloud fire` on the weekly "
                "retraining schedule"
            )
        idle_s = time.monotonic() - last_progress
        if running == 0 and idle_s >= no_execution_timeout_s:
            raise DemoError(
                f"{uploaded} batches were uploaded, but only {len(executions)} pipeline "
                f"executions started, none in the last {no_execution_timeout_s:.0f} s; see "
                "`mhpe cloud logs IngestFunction` and the quarantine bucket"
            )
        time.sleep(poll_interval_s)
    raise DemoError(
        f"no champion within {timeout_s:.0f} s (executions: {last_report or 'none'}); see "
        "`mhpe cloud logs TrainFunction`"
    )


def demo_house() -> tuple[dict, float]:
    import pandas as pd
    from mhpe.schema import House

    sales = pd.read_csv(BATCHES / f"{DEMO_MONTH}.csv", keep_default_na=False, na_values=[""])
    sale = sales.iloc[0]
    house = {}
    for name in House.model_fields:
        value = sale[name]
        if pd.isna(value):
            value = None
        elif hasattr(value, "item"):
            value = value.item()  # numpy scalar to a JSON-serialisable Python value
        house[name] = value
    return house, float(sale["Sale_Price"])


def main() -> None:
    try:
        run()
    except DemoError as error:
        sys.exit(f"demo failed: {error}")


def run() -> None:
    status = ensure_cloud()
    endpoint = status["endpoint_url"]
    step("deploying template.yaml")
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=REPOSITORY, capture_output=True, text=True, check=False
    ).stdout.strip()
    overrides = ["--parameter-overrides", f"GitCommit={commit}"] if commit else []
    print(mhpe("deploy", *overrides), end="")
    outputs = json.loads(mhpe("outputs"))

    step("writing the real Ames sales as monthly batches under data/batches/")
    print(mhpe("data", "fetch", "--format", "csv"), end="")

    s3 = client("s3", endpoint)
    sfn = client("stepfunctions", endpoint)
    raw = outputs["RawBucketName"]
    step(f"uploading the 48 monthly batches of 2006-2009 to s3://{raw}/batches/")
    uploads_started_at = time.time()
    uploaded = upload_batches(s3, raw)
    step(f"{uploaded} batches uploaded (the rest were there already)")
    manifest = wait_for_champion(
        s3,
        sfn,
        models_bucket=outputs["ModelsBucketName"],
        pipeline_arn=outputs["TrainingPipelineArn"],
        mlflow_url=status["mlflow_url"],
        uploaded=uploaded,
        uploads_started_at=uploads_started_at,
    )
    step(
        f"champion: {manifest['model_name']} version {manifest['version']} "
        f"({manifest['strategy']}), dataset version {manifest.get('dataset_version', '?')}"
    )
    for name, value in manifest["metrics"].items():
        print(f"  {name:>12}: {value:,.4f}")

    api_url = outputs["ApiUrl"].rstrip("/")
    key = mhpe("api-key").strip()
    house, actual = demo_house()
    house_file = BATCHES.parent / "demo_house.json"
    house_file.write_text(json.dumps(house, indent=2))
    step(f"pricing a real house sold in {DEMO_MONTH} (actual price ${actual:,.0f})")
    print(
        f'  curl -s -X POST {api_url}/predict -H "x-api-key: $(.venv/bin/mhpe api-key)" '
        f"-H 'content-type: application/json' -d @{house_file.relative_to(REPOSITORY)}"
    )
    response = requests.post(f"{api_url}/predict", json=house, headers={"x-api-key": key})
    print(f"  {response.status_code} {response.text[:500]}")
    if response.ok:
        predicted = response.json().get("price_usd")
        if predicted is not None:
            print(f"  predicted ${predicted:,.0f} against the actual ${actual:,.0f}")

    step("the same request without an API key")
    response = requests.post(f"{api_url}/predict", json=house)
    print(f"  {response.status_code} {response.text}")

    step("a burst of 40 requests at once, beyond the usage plan's burst limit")
    with ThreadPoolExecutor(max_workers=40) as pool:
        statuses = list(
            pool.map(
                lambda _: requests.get(f"{api_url}/health", headers={"x-api-key": key}),
                range(40),
            )
        )
    counts: dict[int, int] = {}
    for result in statuses:
        counts[result.status_code] = counts.get(result.status_code, 0) + 1
    print(f"  status counts: {counts}")
    throttled = next((r for r in statuses if r.status_code == 429), None)
    if throttled is not None:
        print(f"  429 {throttled.text}")

    step("done. The local cloud keeps running: stop it with `make down`.")


if __name__ == "__main__":
    main()
