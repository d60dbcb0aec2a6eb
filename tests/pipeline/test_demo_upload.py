"""The demo on a fresh local cloud: uploading the real 2006-2009 batches ends with a champion.

The stack reads the repository's config/ as the shared layer ships it, so this test also
checks that the layer carries every configuration file.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pytest
from mhpe.data import load_ames, write_monthly_batches

from benchmarks.pipeline_time import DEMO_LIMIT_S, DemoResult, run_demo
from tests.integration.conftest import Cloud, run_mhpe, start_cloud
from tests.pipeline.conftest import STACK, git_commit

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cloud, DemoResult]]:
    batch_dir = tmp_path_factory.mktemp("batches")
    write_monthly_batches(load_ames(), batch_dir, formats=("csv",))
    cloud = start_cloud(tmp_path_factory.mktemp("localcloud"))
    try:
        cloud.mhpe(
            "deploy", "--stack-name", STACK, "--parameter-overrides", f"GitCommit={git_commit()}"
        )
        outputs = json.loads(cloud.mhpe("outputs", "--stack-name", STACK).stdout)
        cloud.outputs = outputs
        yield cloud, run_demo(cloud.endpoint_url, outputs, Path(batch_dir), "2009-12", DEMO_LIMIT_S)
    finally:
        run_mhpe(cloud.state_dir, "cloud", "down", check=False)


def test_demo_reaches_champion_in_time(demo: tuple[Cloud, DemoResult]) -> None:
    _, result = demo

    assert result.batches == 48
    assert result.champion_s is not None, f"no champion; executions ended {result.endings}"
    assert result.all_done_s is not None
    assert result.all_done_s <= DEMO_LIMIT_S
    assert set(result.endings) <= {"curated, training skipped", "trained, promoted",
                                   "trained, champion kept"}  # fmt: skip
    assert sum(result.endings.values()) == 48
    assert any(training["promoted"] for training in result.trainings)


def test_demo_champion_is_published(demo: tuple[Cloud, DemoResult]) -> None:
    cloud, result = demo
    assert result.champion is not None
    client = mlflow.MlflowClient(tracking_uri=cloud.mlflow_url)
    champion = client.get_model_version_by_alias("house-price", "champion")
    s3 = cloud.client("s3")
    model = s3.head_object(
        Bucket=cloud.outputs["ModelsBucketName"], Key=result.champion["onnx"]["key"]
    )

    assert result.champion["version"] == champion.version
    assert result.champion["holdout_months"] == ["2009-01", "2009-12"]
    assert result.champion["metrics"]["rmse_log"] < result.champion["baseline_metrics"]["rmse_log"]
    assert model["ContentLength"] == result.champion["onnx"]["size_bytes"]
