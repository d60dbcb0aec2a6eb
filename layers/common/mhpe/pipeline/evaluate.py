"""Evaluate: champion/challenger on the challenger's holdout, the decision recorded in MLflow.

The challenger and the champion are scored on the same holdout sales: the most recent months
of the challenger's training data, which the challenger never trained on. Without a champion,
the challenger must beat the naive baseline (median training price of the neighbourhood).
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from mhpe.metrics import regression_metrics
from mhpe.pipeline.errors import PipelineInputError
from mhpe.pipeline.scoring import TARGET_COLUMN, score_model
from mhpe.pipeline.settings import PipelineResources, PipelineSettings
from mhpe.pipeline.state import PipelineState
from mhpe.pipeline.train import BASELINE_PRICE_COLUMN
from mhpe.registry import CHAMPION_ALIAS, ModelRegistry, ModelVersionInfo
from mhpe.storage import ObjectLocation, ObjectStore

logger = logging.getLogger(__name__)

EVALUATIONS_PREFIX = "evaluations/"
CHAMPION = "champion"
BASELINE = "baseline"

RegistryFactory = Callable[[PipelineSettings], ModelRegistry]


@dataclass(frozen=True)
class PromotionDecision:
    """Whether the challenger replaces the champion, and why."""

    promote: bool
    compared_with: str
    reason: str


def decide_promotion(
    metric: str,
    challenger: Mapping[str, float],
    champion: Mapping[str, float] | None,
    baseline: Mapping[str, float],
) -> PromotionDecision:
    """Promote only a challenger whose `metric` (lower is better) is strictly lower.

    It is compared with the champion's when there is one, else with the baseline's.
    """
    opponent, opponent_metrics = (
        (CHAMPION, champion) if champion is not None else (BASELINE, baseline)
    )
    ours, theirs = challenger[metric], opponent_metrics[metric]
    if ours < theirs:
        reason = f"challenger {metric} {ours:,.4f} is below the {opponent}'s {theirs:,.4f}"
        return PromotionDecision(True, opponent, reason)
    reason = f"challenger {metric} {ours:,.4f} is not below the {opponent}'s {theirs:,.4f}"
    return PromotionDecision(False, opponent, reason)


def _default_registry(settings: PipelineSettings) -> ModelRegistry:
    return ModelRegistry(settings.model_name, settings.experiment_name)


def _training_result(state: PipelineState) -> dict[str, Any]:
    training = state.training or {}
    required = ("model_version", "run_id", "holdout")
    missing = [key for key in required if key not in training]
    if not training.get("trained") or missing:
        raise PipelineInputError(
            f"evaluate needs a trained challenger in $.training (trained: true with "
            f"{', '.join(required)}); missing {missing or ['trained']}"
        )
    return training


def run_evaluate_step(
    state: PipelineState,
    *,
    settings: PipelineSettings,
    resources: PipelineResources,
    store: ObjectStore,
    registry_factory: RegistryFactory = _default_registry,
) -> dict[str, Any]:
    """Score challenger and champion on the same holdout and return `{"promote": bool, ...}`."""
    training = _training_result(state)
    holdout_location = ObjectLocation.from_dict(training["holdout"])
    holdout = pd.read_parquet(io.BytesIO(store.read(holdout_location)))
    registry = registry_factory(settings)
    metric = settings.promotion_metric

    challenger = registry.get_version(str(training["model_version"]))
    challenger_metrics = score_model(registry.load_onnx(challenger.version), holdout)
    baseline_metrics = regression_metrics(holdout[TARGET_COLUMN], holdout[BASELINE_PRICE_COLUMN])

    # NOTE: a champion trained on later data than the challenger (concurrent trainings that
    # finished out of order) may have trained on these holdout months, which favours it.
    champion = registry.version_by_alias(CHAMPION_ALIAS)
    champion_metrics = None
    if champion is not None and champion.version == challenger.version:
        decision = PromotionDecision(
            True, CHAMPION, "the challenger is already the champion; the promotion is finished"
        )
    else:
        if champion is not None:
            champion_metrics = score_model(registry.load_onnx(champion.version), holdout)
        decision = decide_promotion(metric, challenger_metrics, champion_metrics, baseline_metrics)
    logger.info(
        "evaluated %s version %s: %s",
        settings.model_name,
        challenger.version,
        decision.reason,
    )

    evaluation = {
        "promote": decision.promote,
        "decision": "promote" if decision.promote else "keep champion",
        "reason": decision.reason,
        "metric": metric,
        "compared_with": decision.compared_with,
        "holdout_rows": len(holdout),
        "challenger": _model_summary(challenger, challenger_metrics),
        "champion": _model_summary(champion, champion_metrics) if champion else None,
        "baseline": {"metrics": baseline_metrics},
    }
    _record_in_mlflow(registry, challenger, evaluation, state.execution_arn)
    evaluation["report"] = _write_report(
        store, resources.reports_bucket, settings.model_name, state, evaluation
    ).to_dict()
    return evaluation


def _model_summary(version: ModelVersionInfo, metrics: dict[str, float] | None) -> dict[str, Any]:
    return {"model_version": version.version, "run_id": version.run_id, "metrics": metrics}


def _record_in_mlflow(
    registry: ModelRegistry,
    challenger: ModelVersionInfo,
    evaluation: dict[str, Any],
    execution_arn: str,
) -> None:
    metrics = {f"eval_challenger_{k}": v for k, v in evaluation["challenger"]["metrics"].items()}
    metrics.update({f"eval_baseline_{k}": v for k, v in evaluation["baseline"]["metrics"].items()})
    champion = evaluation["champion"]
    if champion and champion["metrics"]:
        metrics.update({f"eval_champion_{k}": v for k, v in champion["metrics"].items()})
    tags = {
        "evaluation.decision": evaluation["decision"],
        "evaluation.reason": evaluation["reason"],
        "evaluation.compared_with": (
            f"champion version {champion['model_version']}" if champion else BASELINE
        ),
        "evaluation.execution_arn": execution_arn,
    }
    registry.log_to_run(challenger.run_id, metrics, tags)
    registry.tag_version(challenger.version, {"evaluation": evaluation["decision"]})


def _write_report(
    store: ObjectStore,
    bucket: str,
    model_name: str,
    state: PipelineState,
    evaluation: dict[str, Any],
) -> ObjectLocation:
    champion = evaluation["champion"]
    opponent = f"champion-v{champion['model_version']}" if champion else BASELINE
    version = evaluation["challenger"]["model_version"]
    key = f"{EVALUATIONS_PREFIX}{model_name}/v{version}/{state.execution_name}-vs-{opponent}.json"
    body = json.dumps(evaluation, indent=2).encode()
    return store.create(bucket, key, body, content_type="application/json")
