"""Train: decide whether the curated data warrants a training, train, log and register it.

A training is skipped (not failed) when too few new rows arrived since the last one
(`min_new_rows` in pipeline.yaml, unless the execution is forced) or when the curated data
spans too few months for the holdout and the time-ordered cross-validation.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mhpe.data import dataset_version, snapshot_bytes
from mhpe.pipeline.curated import CuratedSales, load_curated_sales
from mhpe.pipeline.ledger import (
    LEDGER_KEY,
    claim_training,
    claimed_rows,
    complete_training,
    release_claim,
)
from mhpe.pipeline.settings import PipelineResources, PipelineSettings, model_config_path
from mhpe.pipeline.state import ClaimRelease, PipelineState
from mhpe.registry import CHALLENGER_ALIAS, ModelRegistry
from mhpe.storage import ObjectChangedError, ObjectLocation, ObjectStore

if TYPE_CHECKING:
    from mhpe.training import ModelConfig, TrainingResult

logger = logging.getLogger(__name__)

DATASETS_PREFIX = "datasets/"
RUNS_PREFIX = "runs/"
HOLDOUT_FILE = "holdout.parquet"
BASELINE_PRICE_COLUMN = "baseline_price_usd"
PREDICTED_PRICE_COLUMN = "predicted_price_usd"

RegistryFactory = Callable[[PipelineSettings], ModelRegistry]


def _default_registry(settings: PipelineSettings) -> ModelRegistry:
    return ModelRegistry(settings.model_name, settings.experiment_name)


def _skipped(reason: str, **details: Any) -> dict[str, Any]:
    logger.info("training skipped: %s", reason)
    return {"trained": False, "reason": reason, **details}


def months_needed(config: ModelConfig) -> int:
    """Return the fewest distinct sale months that the holdout and the CV folds need."""
    return config.holdout_months + config.cv_folds + 1


def run_train_step(
    state: PipelineState,
    *,
    settings: PipelineSettings,
    resources: PipelineResources,
    store: ObjectStore,
    model_config_file: Path | None = None,
    registry_factory: RegistryFactory = _default_registry,
) -> dict[str, Any]:
    """Train a challenger on all curated sales when warranted and return `{"trained": ...}`."""
    curated = load_curated_sales(store, resources.curated_bucket)
    if curated.sales.empty:
        return _skipped("the curated bucket holds no sales yet", curated_rows=0)

    covered = claimed_rows(store, resources.models_bucket, execution_arn=state.execution_arn)
    pending = len(curated.sales) - covered
    if not state.force and pending < settings.min_new_rows:
        return _skipped(
            f"{pending} new curated rows since the last training, below min_new_rows "
            f"{settings.min_new_rows}",
            curated_rows=len(curated.sales),
            new_rows=pending,
        )

    # Imported only when a training may run: the strategies import scikit-learn and torch.
    from mhpe.training import load_model_config

    config = load_model_config(model_config_file or model_config_path())
    strategy = settings.strategy or config.strategy
    needed = months_needed(config)
    if len(curated.months) < needed:
        return _skipped(
            f"the curated sales span {len(curated.months)} months, but a holdout of "
            f"{config.holdout_months} months and {config.cv_folds} CV folds need {needed}",
            curated_rows=len(curated.sales),
            new_rows=pending,
        )

    decision = claim_training(
        store,
        resources.models_bucket,
        curated_rows=len(curated.sales),
        min_new_rows=settings.min_new_rows,
        force=state.force,
        execution_arn=state.execution_arn,
    )
    if not decision.train:
        return _skipped(decision.reason, decision=decision.to_dict())

    try:
        result = _train_and_register(
            state,
            settings,
            resources,
            store,
            curated,
            config,
            strategy,
            {**decision.to_dict(), "ledger": LEDGER_KEY},
            registry_factory,
        )
    except Exception as error:
        logger.warning(
            "training of execution %s on %d curated rows failed (%s); releasing its claim",
            state.execution_arn,
            decision.curated_rows,
            error,
        )
        release_claim(store, resources.models_bucket, state.execution_arn)
        raise

    try:
        complete_training(
            store,
            resources.models_bucket,
            execution_arn=state.execution_arn,
            curated_rows=decision.curated_rows,
        )
    except ObjectChangedError as error:
        # The challenger is registered, so the step succeeds. The claim then expires and a
        # later trigger trains on these rows again: a second training, but no lost rows.
        logger.error("could not record the finished training in the ledger: %s", error)
    return result


def run_release_step(
    request: ClaimRelease, *, resources: PipelineResources, store: ObjectStore
) -> dict[str, Any]:
    """Release the training claim of a failed execution and return `{"released": ...}`.

    The state machine calls this on its Train Catch path, which also covers a train function
    that was killed or timed out before its own error handling could run.
    """
    released = release_claim(store, resources.models_bucket, request.execution.arn)
    return {"released": released, "execution_arn": request.execution.arn, "ledger": LEDGER_KEY}


def _train_and_register(
    state: PipelineState,
    settings: PipelineSettings,
    resources: PipelineResources,
    store: ObjectStore,
    curated: CuratedSales,
    config: ModelConfig,
    strategy: str,
    decision: dict[str, Any],
    registry_factory: RegistryFactory,
) -> dict[str, Any]:
    from mhpe.training import train

    logger.info("training %s on %d curated sales (%s)", strategy, len(curated.sales), decision)
    result = train(curated.sales, config, strategy)
    trained_at = datetime.now(UTC).isoformat()

    snapshot = snapshot_bytes(curated.sales)
    version = dataset_version(curated.sales)
    snapshot_location = store.create(
        resources.models_bucket,
        f"{DATASETS_PREFIX}{version}.csv",
        snapshot,
        content_type="text/csv",
    )

    registry = registry_factory(settings)
    registered = registry.log_training(
        result,
        dataset_version=version,
        git_commit=resources.git_commit,
        params={
            "strategy": strategy,
            "holdout_months": config.holdout_months,
            "cv_folds": config.cv_folds,
            "curated_rows": len(curated.sales),
            "curated_objects": len(curated.objects),
            "training_rows": result.training_rows,
            "dropped_training_rows": result.dropped_training_rows,
            "training_months": "..".join(result.training_months),
            "holdout_month_range": "..".join(result.holdout_months),
            "max_living_area_sqft": config.max_living_area_sqft,
        },
        tags={
            "execution_arn": state.execution_arn,
            "trigger": state.reason or ("forced" if state.force else "batch"),
            "batch_key": state.batch.key if state.batch else "",
            "dataset_snapshot": snapshot_location.uri,
        },
    )
    holdout_location = _write_holdout(
        store, resources.models_bucket, registered.run_id, curated, result
    )
    registry.set_alias(CHALLENGER_ALIAS, registered.version)

    return {
        "trained": True,
        "reason": decision["reason"],
        "decision": decision,
        "model_name": registered.model_name,
        "model_version": registered.version,
        "run_id": registered.run_id,
        "model_uri": registered.source,
        "strategy": result.strategy,
        "params": result.params,
        "metrics": result.metrics,
        "baseline_metrics": result.baseline_metrics,
        "dataset_version": version,
        "dataset_snapshot": snapshot_location.to_dict(),
        "training_rows": result.training_rows,
        "training_months": list(result.training_months),
        "holdout": holdout_location.to_dict(),
        "holdout_rows": len(result.holdout_predictions),
        "holdout_months": list(result.holdout_months),
        "feature_schema": result.feature_schema,
        "git_commit": resources.git_commit,
        "trained_at": trained_at,
    }


def _write_holdout(
    store: ObjectStore,
    bucket: str,
    run_id: str,
    curated: CuratedSales,
    result: TrainingResult,
) -> ObjectLocation:
    """Store the holdout sales with the baseline's prices, for the evaluate step."""
    predictions = result.holdout_predictions
    holdout = curated.sales.loc[predictions.index].assign(
        **{
            BASELINE_PRICE_COLUMN: predictions["baseline_price_usd"].to_numpy(),
            PREDICTED_PRICE_COLUMN: predictions["predicted_price_usd"].to_numpy(),
        }
    )
    buffer = io.BytesIO()
    holdout.reset_index(drop=True).to_parquet(buffer, index=False, engine="pyarrow")
    return store.create(bucket, f"{RUNS_PREFIX}{run_id}/{HOLDOUT_FILE}", buffer.getvalue())
