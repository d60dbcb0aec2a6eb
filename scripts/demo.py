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

REPOSITORY = Path(__file__).resolve().parents[1]
MHPE = [sys.executable, "-m", "infra.cli"]
BATCHES = REPOSITORY / "data" / "batches"
TRAINING_MONTHS = [f"{year}-{month:02d}" for year in range(2006, 2010) for month in range(1, 13)]
DEMO_MONTH = "2010-03"
PIPELINE_TIMEOUT_S = 540
STARTED = time.monotonic()


def step(message: str) -> None:
    print(f"[{time.monotonic() - STARTED:6.1f} s] {message}", flush=True)


def mhpe(*args: str) -> str:
    result = subprocess.run(
        [*MHPE, *args], cwd=REPOSITORY, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        sys.exit(f"mhpe {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def ensure_cloud() -> str:
    status = subprocess.run(
        [*MHPE, "cloud", "status"], cwd=REPOSITORY, capture_output=True, text=True, check=False
    )
    if status.returncode == 0:
        endpoint = json.loads(status.stdout)["endpoint_url"]
        step(f"the local cloud already runs on {endpoint}")
        return endpoint
    step("starting the local cloud (AWS APIs on 127.0.0.1:4566, MLflow on 127.0.0.1:5000)")
    print(mhpe("cloud", "up"), end="")
    return json.loads(mhpe("cloud", "status"))["endpoint_url"]


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


def wait_for_champion(s3, sfn, models_bucket: str, pipeline_arn: str) -> dict:
    deadline = time.monotonic() + PIPELINE_TIMEOUT_S
    last_report = ""
    while time.monotonic() < deadline:
        executions = sfn.list_executions(stateMachineArn=pipeline_arn, maxResults=1000)[
            "executions"
        ]
        counts: dict[str, int] = {}
        for execution in executions:
            counts[execution["status"]] = counts.get(execution["status"], 0) + 1
        report = ", ".join(f"{count} {status.lower()}" for status, count in sorted(counts.items()))
        if report != last_report:
            step(f"pipeline executions: {report or 'none yet'}")
            last_report = report
        if executions and counts.get("RUNNING", 0) == 0:
            try:
                body = s3.get_object(Bucket=models_bucket, Key="champion/manifest.json")["Body"]
                return json.loads(body.read())
            except s3.exceptions.NoSuchKey:
                pass
        time.sleep(3)
    sys.exit(f"no champion within {PIPELINE_TIMEOUT_S} s; see `mhpe cloud logs TrainFunction`")


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
    endpoint = ensure_cloud()
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
    step(f"{upload_batches(s3, raw)} batches uploaded (the rest were there already)")
    manifest = wait_for_champion(
        s3, sfn, outputs["ModelsBucketName"], outputs["TrainingPipelineArn"]
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
        f"  curl -s -X POST {api_url}/predict -H \"x-api-key: $(.venv/bin/mhpe api-key)\" "
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
