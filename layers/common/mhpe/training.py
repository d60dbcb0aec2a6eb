"""Training: time-respecting grid search, refit, holdout evaluation, baseline and export.

`train(df, config)` takes sales with a `sale_month` ("YYYY-MM"), which is derived from
Year_Sold and Mo_Sold when absent. It returns everything the train function logs to MLflow:
the chosen parameters, holdout metrics beside the baseline's, the ONNX bytes after a passed
parity check, and the input schema.

Time is respected twice. The holdout is the most recent `holdout_months` sale months, and
the cross-validation inside the remaining months splits by month so that every training
fold contains only sales from months before its validation months.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.model_selection import TimeSeriesSplit

from mhpe.config import default_config_dir, load_yaml_config
from mhpe.exceptions import ConfigError
from mhpe.features import (
    SALE_MONTH_COLUMN,
    TARGET_COLUMN,
    feature_schema,
    missing_input_columns,
    model_frame,
)
from mhpe.metrics import regression_metrics, rmse_log
from mhpe.onnx_export import PARITY_TOLERANCE, ParityReport, check_parity, predict_onnx
from mhpe.strategies import STRATEGIES, get_strategy

logger = logging.getLogger(__name__)

NEIGHBORHOOD_COLUMN = "Neighborhood"
MODEL_CONFIG_FILE = "model.yaml"


class ModelConfigError(ConfigError):
    """config/model.yaml (or its mapping) has a missing or invalid value."""


@dataclass(frozen=True)
class ModelConfig:
    """Training settings: default strategy, evaluation split and each strategy's grid."""

    strategy: str
    holdout_months: int
    cv_folds: int
    grids: Mapping[str, Mapping[str, list[Any]]]
    max_living_area_sqft: float | None = None
    parity_tolerance: float = PARITY_TOLERANCE
    n_jobs: int = 1

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any], source: str = "model config") -> ModelConfig:
        """Validate a parsed model.yaml; raise ModelConfigError naming the key and rule."""

        def require(key: str) -> Any:
            if key not in raw:
                raise ModelConfigError(f"{source}: required key {key!r} is missing")
            return raw[key]

        def positive_int(key: str, value: Any, minimum: int) -> int:
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise ModelConfigError(
                    f"{source}: {key} must be an integer >= {minimum}, got {value!r}"
                )
            return value

        strategy = require("strategy")
        if strategy not in STRATEGIES:
            raise ModelConfigError(
                f"{source}: strategy {strategy!r} is unknown; known: {sorted(STRATEGIES)}"
            )

        grids = require("grids")
        if not isinstance(grids, Mapping):
            raise ModelConfigError(f"{source}: grids must map strategy names to grids")
        for name, grid in grids.items():
            if name not in STRATEGIES:
                raise ModelConfigError(
                    f"{source}: grids.{name} names no strategy; known: {sorted(STRATEGIES)}"
                )
            if not isinstance(grid, Mapping):
                raise ModelConfigError(f"{source}: grids.{name} must map parameters to lists")
            try:
                STRATEGIES[name].param_grid(grid)
            except ValueError as error:
                raise ModelConfigError(f"{source}: grids.{name}: {error}") from error
        if strategy not in grids:
            raise ModelConfigError(f"{source}: grids has no entry for strategy {strategy!r}")

        max_area = raw.get("max_living_area_sqft")
        if max_area is not None and (not isinstance(max_area, (int, float)) or max_area <= 0):
            raise ModelConfigError(
                f"{source}: max_living_area_sqft must be a positive number or null, "
                f"got {max_area!r}"
            )
        tolerance = raw.get("parity_tolerance", PARITY_TOLERANCE)
        if not isinstance(tolerance, (int, float)) or not 0 < tolerance < 1:
            raise ModelConfigError(
                f"{source}: parity_tolerance must be a number in (0, 1), got {tolerance!r}"
            )

        return cls(
            strategy=strategy,
            holdout_months=positive_int("holdout_months", require("holdout_months"), 1),
            cv_folds=positive_int("cv_folds", require("cv_folds"), 2),
            grids={name: dict(grid) for name, grid in grids.items()},
            max_living_area_sqft=None if max_area is None else float(max_area),
            parity_tolerance=float(tolerance),
            n_jobs=positive_int("n_jobs", raw.get("n_jobs", 1), 1),
        )


def load_model_config(path: str | Path | None = None) -> ModelConfig:
    """Read and validate model.yaml, by default the one in `default_config_dir()`."""
    config_path = Path(path) if path is not None else default_config_dir() / MODEL_CONFIG_FILE
    return ModelConfig.from_mapping(load_yaml_config(config_path), source=str(config_path))


def sale_months(df: pd.DataFrame) -> pd.Series:
    """Return each sale's month as "YYYY-MM", from sale_month or Year_Sold and Mo_Sold."""
    if SALE_MONTH_COLUMN in df.columns:
        return df[SALE_MONTH_COLUMN].astype(str)
    if {"Year_Sold", "Mo_Sold"} <= set(df.columns):
        return df["Year_Sold"].astype(int).astype(str) + "-" + df["Mo_Sold"].map("{:02d}".format)
    raise KeyError(f"sales need {SALE_MONTH_COLUMN!r} or Year_Sold and Mo_Sold to be split")


def split_holdout(df: pd.DataFrame, holdout_months: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split sales into (training, holdout): the holdout is the last `holdout_months` months."""
    months = sale_months(df)
    unique = sorted(months.unique())
    if len(unique) <= holdout_months:
        raise ValueError(
            f"a holdout of {holdout_months} months needs more sale months than that; "
            f"the sales cover {len(unique)} ({unique[0] if unique else 'none'} onwards)"
        )
    first_holdout = unique[-holdout_months]
    in_holdout = (months >= first_holdout).to_numpy()
    return df[~in_holdout], df[in_holdout]


def monthly_time_splits(
    months: Sequence[str] | pd.Series, n_splits: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Build time-ordered CV folds by month: (training rows, validation rows) positions.

    scikit-learn's TimeSeriesSplit runs on the sorted distinct months, so each
    validation fold is a block of consecutive months and its training rows are all sales
    from earlier months. Rows need not be sorted.
    """
    month_array = np.asarray(months, dtype=str)
    unique = np.unique(month_array)
    if len(unique) < n_splits + 1:
        raise ValueError(
            f"{n_splits} time-ordered folds need at least {n_splits + 1} distinct months, "
            f"got {len(unique)}"
        )

    splits = []
    for _, validation_months in TimeSeriesSplit(n_splits=n_splits).split(unique):
        first_validation = unique[validation_months[0]]
        train_rows = np.flatnonzero(month_array < first_validation)
        validation_rows = np.flatnonzero(np.isin(month_array, unique[validation_months]))
        splits.append((train_rows, validation_rows))
    return splits


class NeighborhoodMedianBaseline:
    """Naive baseline: the median training price of the sale's neighbourhood.

    A neighbourhood absent from training gets the overall median training price.
    """

    def fit(self, neighborhoods: pd.Series, prices_usd: pd.Series) -> NeighborhoodMedianBaseline:
        frame = pd.DataFrame({"neighborhood": neighborhoods.to_numpy(), "price": prices_usd})
        if frame.empty:
            raise ValueError("the baseline needs at least one training sale, got none")
        self.medians_ = frame.groupby("neighborhood")["price"].median().to_dict()
        self.overall_median_ = float(frame["price"].median())
        return self

    def predict(self, neighborhoods: pd.Series) -> np.ndarray:
        return np.array(
            [self.medians_.get(name, self.overall_median_) for name in neighborhoods],
            dtype=np.float64,
        )


@dataclass(frozen=True)
class CandidateScore:
    """Cross-validated RMSE of log price of one parameter set."""

    params: dict[str, Any]
    fold_rmse_log: list[float]

    @property
    def mean_rmse_log(self) -> float:
        return float(np.mean(self.fold_rmse_log))


@dataclass
class TrainingResult:
    """Outputs of one training run, for the MLflow run and the evaluate step.

    `metrics` and `baseline_metrics` are holdout metrics (`mhpe.metrics.METRIC_NAMES`).
    `holdout_predictions` has, per holdout sale, sale_month, Neighborhood,
    actual_price_usd, predicted_price_usd (from the ONNX model) and baseline_price_usd.
    """

    strategy: str
    params: dict[str, Any]
    metrics: dict[str, float]
    baseline_metrics: dict[str, float]
    onnx_bytes: bytes
    feature_schema: list[dict[str, str]]
    holdout_predictions: pd.DataFrame
    cv_results: list[CandidateScore]
    parity: ParityReport
    training_rows: int
    dropped_training_rows: int
    training_months: tuple[str, str]
    holdout_months: tuple[str, str]
    train_seconds: float
    estimator: Any = field(repr=False, default=None)

    @property
    def beats_baseline(self) -> bool:
        """Whether the model's holdout RMSE in dollars is below the baseline's."""
        return self.metrics["rmse_usd"] < self.baseline_metrics["rmse_usd"]


def _score_candidate(
    estimator: Any,
    X: pd.DataFrame,
    prices: np.ndarray,
    train_rows: np.ndarray,
    validation_rows: np.ndarray,
) -> float:
    fitted = clone(estimator).fit(X.iloc[train_rows], prices[train_rows])
    return rmse_log(prices[validation_rows], fitted.predict(X.iloc[validation_rows]))


def grid_search(
    strategy_name: str,
    X: pd.DataFrame,
    prices_usd: np.ndarray,
    months: pd.Series,
    grid: Mapping[str, list[Any]],
    cv_folds: int,
    n_jobs: int = 1,
) -> list[CandidateScore]:
    """Score every parameter set of `grid` by time-ordered CV, best (lowest) first."""
    strategy = get_strategy(strategy_name)
    candidates = strategy.param_grid(grid)
    splits = monthly_time_splits(months, cv_folds)
    logger.info(
        "grid search %s: %d candidates x %d folds on %d sales",
        strategy_name,
        len(candidates),
        len(splits),
        len(X),
    )

    jobs = [
        delayed(_score_candidate)(strategy.build_estimator(params), X, prices_usd, train, valid)
        for params in candidates
        for train, valid in splits
    ]
    scores = Parallel(n_jobs=n_jobs)(jobs)

    results = [
        CandidateScore(params, [float(s) for s in scores[i * len(splits) : (i + 1) * len(splits)]])
        for i, params in enumerate(candidates)
    ]
    results.sort(key=lambda candidate: candidate.mean_rmse_log)
    for candidate in results:
        logger.info("  %.4f  %s", candidate.mean_rmse_log, candidate.params)
    return results


def _validate_sales(df: pd.DataFrame) -> None:
    missing = missing_input_columns(df.columns)
    for column in (TARGET_COLUMN, NEIGHBORHOOD_COLUMN):
        if column not in df.columns and column not in missing:
            missing.append(column)
    if missing:
        raise KeyError(f"training sales are missing columns {missing}")

    prices = pd.to_numeric(df[TARGET_COLUMN], errors="coerce")
    bad = ~np.isfinite(prices) | (prices <= 0)
    if bad.any():
        raise ValueError(
            f"{int(bad.sum())} sales have a {TARGET_COLUMN} that is missing or <= 0 "
            f"(first at index {df.index[bad.to_numpy()][0]!r}); run the quality gate first"
        )


def train(
    df: pd.DataFrame, config: ModelConfig, strategy_name: str | None = None
) -> TrainingResult:
    """Grid-search, refit, evaluate on the time-based holdout and export to ONNX.

    Raises ParityError when the ONNX prices on the holdout differ from the native ones by
    more than config.parity_tolerance (relative).
    """
    started = time.perf_counter()
    strategy_name = strategy_name or config.strategy
    strategy = get_strategy(strategy_name)
    if strategy_name not in config.grids:
        raise ModelConfigError(f"model config has no grid for strategy {strategy_name!r}")
    _validate_sales(df)

    training, holdout = split_holdout(df, config.holdout_months)
    dropped = 0
    if config.max_living_area_sqft is not None:
        # Very large houses sold far below their size (partial sales) distort the fit;
        # De Cock (2011), who published the data, advises removing them. Holdout rows stay.
        too_large = training["Gr_Liv_Area"] > config.max_living_area_sqft
        dropped = int(too_large.sum())
        training = training[~too_large]

    training_months = sale_months(training)
    holdout_months = sale_months(holdout)
    logger.info(
        "training %s on %d sales (%s..%s, %d above %s sqft dropped), holdout %d sales (%s..%s)",
        strategy_name,
        len(training),
        training_months.min(),
        training_months.max(),
        dropped,
        config.max_living_area_sqft,
        len(holdout),
        holdout_months.min(),
        holdout_months.max(),
    )

    X = model_frame(training)
    prices = training[TARGET_COLUMN].to_numpy(dtype=np.float64)
    cv_results = grid_search(
        strategy_name,
        X,
        prices,
        training_months,
        config.grids[strategy_name],
        config.cv_folds,
        config.n_jobs,
    )
    best_params = strategy.resolve_params(cv_results[0].params)
    estimator = strategy.build_estimator(best_params).fit(X, prices)

    onnx_bytes = strategy.to_onnx(estimator, X.head(5))
    parity = check_parity(estimator, onnx_bytes, holdout, config.parity_tolerance)

    # The holdout is scored with the exported model's prices, the ones serving returns.
    predicted = predict_onnx(onnx_bytes, holdout)
    actual = holdout[TARGET_COLUMN].to_numpy(dtype=np.float64)
    baseline = NeighborhoodMedianBaseline().fit(
        training[NEIGHBORHOOD_COLUMN], training[TARGET_COLUMN]
    )
    baseline_predicted = baseline.predict(holdout[NEIGHBORHOOD_COLUMN])

    metrics = regression_metrics(actual, predicted)
    baseline_metrics = regression_metrics(actual, baseline_predicted)
    predictions = pd.DataFrame(
        {
            SALE_MONTH_COLUMN: holdout_months.to_numpy(),
            NEIGHBORHOOD_COLUMN: holdout[NEIGHBORHOOD_COLUMN].to_numpy(),
            "actual_price_usd": actual,
            "predicted_price_usd": predicted,
            "baseline_price_usd": baseline_predicted,
        },
        index=holdout.index,
    )
    elapsed = time.perf_counter() - started
    logger.info(
        "trained %s in %.1f s: holdout rmse_log %.4f, rmse $%.0f (baseline $%.0f)",
        strategy_name,
        elapsed,
        metrics["rmse_log"],
        metrics["rmse_usd"],
        baseline_metrics["rmse_usd"],
    )

    return TrainingResult(
        strategy=strategy_name,
        params=best_params,
        metrics=metrics,
        baseline_metrics=baseline_metrics,
        onnx_bytes=onnx_bytes,
        feature_schema=feature_schema(),
        holdout_predictions=predictions,
        cv_results=cv_results,
        parity=parity,
        training_rows=len(training),
        dropped_training_rows=dropped,
        training_months=(training_months.min(), training_months.max()),
        holdout_months=(holdout_months.min(), holdout_months.max()),
        train_seconds=elapsed,
        estimator=estimator,
    )
