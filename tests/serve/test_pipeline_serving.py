"""The whole flow on the local cloud: real Ames batches, the pipeline's champion, a price.

Batches of January to June 2008 go to the raw bucket. A forced execution trains, evaluates
and promotes a ridge model with the MLflow server. Then the serve function prices real
houses of July 2008 through the gateway with the promoted version, and its prices equal
those of the ONNX file that the champion pointer names.
"""

from __future__ import annotations

import json
import uuid

import onnxruntime as ort
import pandas as pd
import pytest
import requests
from mhpe.features import onnx_feeds
from mhpe.schema import House

from tests.pipeline.conftest import PipelineCloud, pipeline_cloud  # noqa: F401 - a fixture
from tests.pipeline.pipeline_support import csv_bytes, month_batch

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MONTHS = [f"2008-{month:02d}" for month in range(1, 7)]
PRICED_MONTH = "2008-07"
STACK = "mhpe"


def test_promoted_champion_prices_real_houses(pipeline_cloud: PipelineCloud) -> None:  # noqa: F811
    for month in MONTHS:
        pipeline_cloud.upload(f"batches/{month}.csv", csv_bytes(month_batch(month)))
    pipeline_cloud.wait_for_executions(len(MONTHS))
    pipeline_cloud.set_model_config(grids={"ridge": {"alpha": [5]}})
    description = pipeline_cloud.run_execution(
        {"force": True, "reason": "serve test"}, f"serve-{uuid.uuid4().hex[:12]}"
    )
    output = json.loads(description["output"])
    version = output["promotion"]["model_version"]

    key = pipeline_cloud.cloud.mhpe("api-key", "--stack-name", STACK).stdout.strip()
    sales = month_batch(PRICED_MONTH).head(5)
    houses = json.loads(sales[list(House.model_fields)].to_json(orient="records"))
    response = requests.post(
        pipeline_cloud.outputs["ApiUrl"] + "predict/batch",
        json={"houses": houses},
        headers={"x-api-key": key},
        timeout=60,
    )
    pointer = pipeline_cloud.read_json("ModelsBucketName", "champion/manifest.json")
    onnx_bytes = (
        pipeline_cloud.client("s3")
        .get_object(Bucket=pointer["onnx"]["bucket"], Key=pointer["onnx"]["key"])["Body"]
        .read()
    )
    session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    (expected,) = session.run(["price_usd"], onnx_feeds(pd.DataFrame(sales)))

    assert description["status"] == "SUCCEEDED"
    assert response.status_code == 200, response.text
    assert response.json()["model_version"] == version == pointer["version"]
    assert response.json()["prices_usd"] == [round(float(price), 2) for price in expected[:, 0]]
    for predicted, actual in zip(response.json()["prices_usd"], sales["Sale_Price"], strict=True):
        assert 0.5 < predicted / actual < 2.0
