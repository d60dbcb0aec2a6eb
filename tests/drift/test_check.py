"""A whole drift check on moto's S3 and Step Functions, with a trained champion and real data."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from mhpe.drift import DriftResources, DriftSettings, run_drift_check
from mhpe.drift.reports import run_id
from mhpe.pipeline.curated import write_curated_partitions
from mhpe.pipeline.state import BatchRef
from mhpe.storage import ObjectStore

from tests.drift.drift_support import (
    ames_between,
    houses,
    publish_champion,
    saratoga_sales,
    ship_audit,
)

NOW = datetime(2026, 12, 4, 6, 0, tzinfo=UTC)
REQUESTS = 250


def _check(
    store: ObjectStore,
    stepfunctions: Any,
    resources: DriftResources,
    settings: DriftSettings,
    at: datetime = NOW,
    dry_run: bool = False,
) -> dict[str, Any]:
    return run_drift_check(
        now=at,
        run=run_id(at, f"test-{at:%H%M%S}"),
        settings=settings,
        resources=resources,
        store=store,
        stepfunctions=stepfunctions,
        dry_run=dry_run,
    )


def _executions(stepfunctions: Any, resources: DriftResources) -> list[dict[str, Any]]:
    arn = resources.training_pipeline_arn
    return stepfunctions.list_executions(stateMachineArn=arn)["executions"]


def _ship_saratoga(store: ObjectStore, at: datetime, seed: int = 0) -> None:
    inputs = houses(saratoga_sales().sample(n=REQUESTS, random_state=seed))
    ship_audit(store, "reports", inputs, at)


@pytest.fixture
def champion(store: ObjectStore) -> dict[str, Any]:
    return publish_champion(store, "models")


def test_check_without_champion_starts_nothing(
    store: ObjectStore, stepfunctions: Any, resources: DriftResources, settings: DriftSettings
) -> None:
    summary = _check(store, stepfunctions, resources, settings)

    assert summary["retraining"]["status"] == "not needed"
    assert "no champion" in summary["retraining"]["reason"]
    assert store.read_latest("reports", summary["report"]["key"]) is not None
    assert _executions(stepfunctions, resources) == []


def test_saratoga_requests_start_retraining(
    store: ObjectStore,
    stepfunctions: Any,
    resources: DriftResources,
    settings: DriftSettings,
    champion: dict[str, Any],
) -> None:
    _ship_saratoga(store, NOW - timedelta(hours=3))

    summary = _check(store, stepfunctions, resources, settings)
    (execution,) = _executions(stepfunctions, resources)
    state = json.loads(
        stepfunctions.describe_execution(executionArn=execution["executionArn"])["input"]
    )
    requests = summary["data_drift"]["recent requests"]

    assert summary["decision"]["drifted"] is True
    assert requests["drift_share"] > settings.data_drift_share
    assert summary["retraining"]["status"] == "started"
    assert summary["retraining"]["execution_arn"] == execution["executionArn"]
    assert state["force"] is True
    assert state["reason"].startswith("drift: data drift in recent requests")
    assert state["drift"]["champion_version"] == champion["version"]
    assert summary["html_reports"]["recent requests"]["key"].endswith("recent-requests.html")
    assert store.read_latest("reports", summary["report"]["key"]) is not None


def test_ames_requests_start_nothing(
    store: ObjectStore,
    stepfunctions: Any,
    resources: DriftResources,
    settings: DriftSettings,
    champion: dict[str, Any],
) -> None:
    inputs = houses(ames_between("2008-01", "2008-08").sample(n=REQUESTS, random_state=1))
    ship_audit(store, "reports", inputs, NOW - timedelta(hours=3))

    summary = _check(store, stepfunctions, resources, settings)

    assert summary["decision"]["drifted"] is False
    assert summary["data_drift"]["recent requests"]["drift_share"] < settings.data_drift_share
    assert summary["retraining"]["status"] == "not needed"
    assert _executions(stepfunctions, resources) == []


def test_cooldown_denies_a_new_window(
    store: ObjectStore,
    stepfunctions: Any,
    resources: DriftResources,
    settings: DriftSettings,
    champion: dict[str, Any],
) -> None:
    _ship_saratoga(store, NOW - timedelta(hours=3))
    first = _check(store, stepfunctions, resources, settings)
    _ship_saratoga(store, NOW + timedelta(minutes=30), seed=1)

    later = _check(store, stepfunctions, resources, settings, NOW + timedelta(hours=1))

    assert first["retraining"]["status"] == "started"
    assert later["decision"]["drifted"] is True
    assert later["window_id"] != first["window_id"]
    assert later["retraining"]["status"] == "denied"
    assert later["retraining"]["reason"].startswith("cooldown:")
    assert len(_executions(stepfunctions, resources)) == 1


def test_same_window_never_retrains_twice(
    store: ObjectStore,
    stepfunctions: Any,
    resources: DriftResources,
    settings: DriftSettings,
    champion: dict[str, Any],
) -> None:
    _ship_saratoga(store, NOW - timedelta(hours=3))
    first = _check(store, stepfunctions, resources, settings)

    after_cooldown = _check(store, stepfunctions, resources, settings, NOW + timedelta(days=2))

    assert after_cooldown["window_id"] == first["window_id"]
    assert after_cooldown["retraining"]["status"] == "denied"
    assert "already started a retraining" in after_cooldown["retraining"]["reason"]
    assert len(_executions(stepfunctions, resources)) == 1


def test_new_window_after_cooldown_retrains(
    store: ObjectStore,
    stepfunctions: Any,
    resources: DriftResources,
    settings: DriftSettings,
    champion: dict[str, Any],
) -> None:
    _ship_saratoga(store, NOW - timedelta(hours=3))
    _check(store, stepfunctions, resources, settings)
    _ship_saratoga(store, NOW + timedelta(hours=30), seed=1)

    later = _check(store, stepfunctions, resources, settings, NOW + timedelta(hours=31))

    assert later["retraining"]["status"] == "started"
    assert len(_executions(stepfunctions, resources)) == 2


def test_dry_run_reports_without_retraining(
    store: ObjectStore,
    stepfunctions: Any,
    resources: DriftResources,
    settings: DriftSettings,
    champion: dict[str, Any],
) -> None:
    _ship_saratoga(store, NOW - timedelta(hours=3))

    summary = _check(store, stepfunctions, resources, settings, dry_run=True)

    assert summary["decision"]["drifted"] is True
    assert summary["retraining"]["status"] == "dry run"
    assert _executions(stepfunctions, resources) == []


def test_small_labelled_batches_run_concept_checks(
    store: ObjectStore,
    stepfunctions: Any,
    resources: DriftResources,
    settings: DriftSettings,
    champion: dict[str, Any],
) -> None:
    _curate(store, ("2008-09", "2008-10", "2008-11", "2008-12"))

    summary = _check(store, stepfunctions, resources, settings)
    checks = {check["name"]: check for check in summary["decision"]["checks"]}

    assert summary["labelled"]["months"] == ["2008-10", "2008-11", "2008-12"]
    assert summary["labelled"]["rows"] < settings.min_data_drift_rows
    assert checks["recent requests"]["status"] == "not evaluated"
    assert checks["recent labelled batches"]["status"] == "not evaluated"
    assert checks["price per sqft"]["status"] == "no drift"
    assert checks["champion error"]["status"] == "no drift"
    assert summary["champion_error"]["metric"] == settings.error_metric
    assert summary["retraining"]["status"] == "not needed"


def _curate(store: ObjectStore, months: tuple[str, ...]) -> None:
    for sequencer, month in enumerate(months, start=1):
        batch = BatchRef(bucket="raw", key=f"batches/{month}.csv", sequencer=f"{sequencer:X}")
        sales = ames_between(month, month).drop(columns="sale_month")
        write_curated_partitions(sales, batch, store, "curated")


def test_large_labelled_batches_run_data_drift(
    store: ObjectStore,
    stepfunctions: Any,
    resources: DriftResources,
    settings: DriftSettings,
    champion: dict[str, Any],
) -> None:
    _curate(store, ("2009-06", "2009-07", "2009-08"))

    summary = _check(store, stepfunctions, resources, settings, dry_run=True)
    checks = {check["name"]: check for check in summary["decision"]["checks"]}
    labelled = summary["data_drift"]["recent labelled batches"]

    assert summary["labelled"]["rows"] >= settings.min_data_drift_rows
    assert checks["recent labelled batches"]["status"] in {"drift", "no drift"}
    assert checks["recent labelled batches"]["value"] == labelled["drift_share"]
    assert checks["price per sqft"]["status"] in {"drift", "no drift"}
    assert "recent labelled batches" in summary["html_reports"]


def test_failed_start_releases_the_claim(
    store: ObjectStore,
    stepfunctions: Any,
    resources: DriftResources,
    settings: DriftSettings,
    champion: dict[str, Any],
) -> None:
    _ship_saratoga(store, NOW - timedelta(hours=3))
    missing = DriftResources(
        resources.reports_bucket,
        resources.curated_bucket,
        resources.models_bucket,
        resources.training_pipeline_arn + "-missing",
    )

    with pytest.raises(Exception, match="StateMachineDoesNotExist|does not exist"):
        _check(store, stepfunctions, missing, settings)
    retried = _check(store, stepfunctions, resources, settings, NOW + timedelta(minutes=5))

    assert retried["retraining"]["status"] == "started"


def test_large_window_is_sampled_to_max_rows(
    store: ObjectStore,
    stepfunctions: Any,
    resources: DriftResources,
    settings: DriftSettings,
    champion: dict[str, Any],
) -> None:
    _ship_saratoga(store, NOW - timedelta(hours=3))
    capped = settings.model_copy(update={"max_rows": 100})

    summary = _check(store, stepfunctions, resources, capped, dry_run=True)
    requests = summary["data_drift"]["recent requests"]

    assert summary["requests"]["rows"] == REQUESTS
    assert requests["current_rows"] == 100
    assert requests["reference_rows"] == 100
