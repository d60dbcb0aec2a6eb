"""Training: time-ordered CV, holdout split, metrics, baseline, config and `train`."""

from __future__ import annotations

import copy
import itertools
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pandas as pd
import pytest
import yaml
from mhpe.data import load_ames
from mhpe.features import feature_schema
from mhpe.metrics import METRIC_NAMES, regression_metrics, rmse_log
from mhpe.onnx_export import predict_onnx
from mhpe.training import (
    ModelConfig,
    ModelConfigError,
    NeighborhoodMedianBaseline,
    load_model_config,
    monthly_time_splits,
    sale_months,
    split_holdout,
    train,
)

REPOSITORY_CONFIG = Path(__file__).resolve().parents[2] / "config" / "model.yaml"

SMALL_CONFIG: dict[str, Any] = {
    "strategy": "ridge",
    "holdout_months": 6,
    "cv_folds": 3,
    "max_living_area_sqft": 4000,
    "parity_tolerance": 1.0e-4,
    "n_jobs": 1,
    "grids": {"ridge": {"alpha": [1.0, 30.0]}},
}


@pytest.fixture(autouse=True)
def _no_cloud_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


@pytest.fixture(scope="module")
def ames() -> pd.DataFrame:
    return load_ames()


@pytest.fixture(scope="module")
def ridge_result(ames: pd.DataFrame) -> Any:
    return train(ames, ModelConfig.from_mapping(SMALL_CONFIG))


def test_cv_never_trains_on_later_months(ames: pd.DataFrame) -> None:
    shuffled = ames.sample(frac=1.0, random_state=0)
    months = sale_months(shuffled).to_numpy()

    splits = monthly_time_splits(months, n_splits=5)

    assert len(splits) == 5
    for train_rows, validation_rows in splits:
        assert months[train_rows].max() < months[validation_rows].min()
        assert len(set(train_rows) & set(validation_rows)) == 0


def test_cv_folds_are_consecutive_month_blocks(ames: pd.DataFrame) -> None:
    months = sale_months(ames).to_numpy()
    distinct = sorted(set(months))

    splits = monthly_time_splits(months, n_splits=4)

    validation_blocks = [sorted(set(months[rows])) for _, rows in splits]
    for block in validation_blocks:
        start = distinct.index(block[0])
        assert block == distinct[start : start + len(block)]
    assert validation_blocks[-1][-1] == distinct[-1]
    for (_, earlier), (_, later) in itertools.pairwise(splits):
        assert months[earlier].max() < months[later].min()


def test_cv_training_takes_every_earlier_sale(ames: pd.DataFrame) -> None:
    months = sale_months(ames).to_numpy()

    for train_rows, validation_rows in monthly_time_splits(months, n_splits=3):
        first_validation = months[validation_rows].min()
        assert len(train_rows) == int((months < first_validation).sum())


def test_cv_rejects_too_few_months() -> None:
    with pytest.raises(ValueError, match="at least 4 distinct months, got 3"):
        monthly_time_splits(["2008-01", "2008-02", "2008-03"], n_splits=3)


def test_split_holdout_takes_last_months(ames: pd.DataFrame) -> None:
    training, holdout = split_holdout(ames, holdout_months=12)

    assert sorted(sale_months(holdout).unique()) == [
        "2009-08",
        "2009-09",
        "2009-10",
        "2009-11",
        "2009-12",
        "2010-01",
        "2010-02",
        "2010-03",
        "2010-04",
        "2010-05",
        "2010-06",
        "2010-07",
    ]
    assert sale_months(training).max() == "2009-07"
    assert len(training) + len(holdout) == len(ames)


def test_split_holdout_rejects_short_history(ames: pd.DataFrame) -> None:
    two_months = ames[sale_months(ames).isin(["2008-01", "2008-02"])]

    with pytest.raises(ValueError, match="covers 2|cover 2"):
        split_holdout(two_months, holdout_months=2)


def test_sale_months_from_year_and_month() -> None:
    sales = pd.DataFrame({"Year_Sold": [2008, 2010], "Mo_Sold": [6, 11]})

    assert sale_months(sales).tolist() == ["2008-06", "2010-11"]


def test_metrics_hand_computed_case() -> None:
    actual = [100_000.0, 200_000.0, 300_000.0, 400_000.0]
    predicted = [110_000.0, 180_000.0, 300_000.0, 440_000.0]

    metrics = regression_metrics(actual, predicted)

    # Errors: +10k, -20k, 0, +40k.
    assert metrics["rmse_usd"] == pytest.approx(np.sqrt((1e8 + 4e8 + 0 + 16e8) / 4))
    assert metrics["mae_usd"] == pytest.approx(17_500.0)
    assert metrics["mape_pct"] == pytest.approx(100 * (0.1 + 0.1 + 0.0 + 0.1) / 4)
    # Sum of squares around the mean of 250k: 2 * (150k² + 50k²) = 5e10.
    assert metrics["r2"] == pytest.approx(1 - 21e8 / 5e10)
    expected_log = np.sqrt((np.log(1.1) ** 2 + np.log(0.9) ** 2 + 0.0 + np.log(1.1) ** 2) / 4)
    assert metrics["rmse_log"] == pytest.approx(expected_log)
    assert rmse_log(actual, predicted) == pytest.approx(expected_log)
    assert tuple(metrics) == METRIC_NAMES


@pytest.mark.parametrize(
    ("actual", "predicted", "message"),
    [
        ([1.0, 2.0], [1.0], "2 actual prices, 1 predictions"),
        ([], [], "at least one sale"),
        (
            [100.0, -5.0],
            [100.0, 100.0],
            r"actual prices must be finite and > 0: 1 are not, the first at row 1",
        ),
        ([100.0], [np.nan], "predicted prices must be finite"),
    ],
)
def test_metrics_reject_invalid_prices(
    actual: list[float], predicted: list[float], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        regression_metrics(actual, predicted)


def test_baseline_predicts_neighbourhood_median() -> None:
    neighborhoods = pd.Series(["A", "A", "A", "B", "B"])
    prices = pd.Series([100.0, 300.0, 200.0, 50.0, 70.0])

    baseline = NeighborhoodMedianBaseline().fit(neighborhoods, prices)
    predicted = baseline.predict(pd.Series(["A", "B", "Unknown"]))

    assert predicted.tolist() == [200.0, 60.0, 100.0]


def test_baseline_rejects_empty_training() -> None:
    with pytest.raises(ValueError, match="at least one training sale"):
        NeighborhoodMedianBaseline().fit(pd.Series([], dtype=str), pd.Series([], dtype=float))


def test_repository_config_is_valid() -> None:
    config = load_model_config(REPOSITORY_CONFIG)

    assert config.strategy in config.grids
    assert config.holdout_months == 12


def test_load_model_config_defaults_to_config_dir() -> None:
    assert load_model_config() == load_model_config(REPOSITORY_CONFIG)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"strategy": "xgboost"}, "strategy 'xgboost' is unknown"),
        ({"holdout_months": 0}, "holdout_months must be an integer >= 1, got 0"),
        ({"cv_folds": 1}, "cv_folds must be an integer >= 2, got 1"),
        ({"cv_folds": True}, "cv_folds must be an integer >= 2, got True"),
        ({"grids": {"ridge": {"alpha": 3}}}, "grids.ridge: .*'alpha' must be a non-empty list"),
        ({"grids": {"ridge": {"alpha": [1], "beta": [2]}}}, r"grids.ridge: .*\['beta'\]"),
        ({"grids": {"lasso": {"alpha": [1]}}}, "grids.lasso names no strategy"),
        ({"grids": {"mlp": SMALL_CONFIG["grids"]["ridge"]}}, "grids.mlp"),
        ({"max_living_area_sqft": -1}, "max_living_area_sqft must be a positive number"),
        ({"parity_tolerance": 1.5}, r"parity_tolerance must be a number in \(0, 1\)"),
    ],
)
def test_model_config_rejects_invalid_value(change: dict[str, Any], message: str) -> None:
    raw = {**copy.deepcopy(SMALL_CONFIG), **change}

    with pytest.raises(ModelConfigError, match=message):
        ModelConfig.from_mapping(raw)


def test_model_config_names_missing_key(tmp_path: Path) -> None:
    raw = copy.deepcopy(SMALL_CONFIG)
    del raw["cv_folds"]
    path = tmp_path / "model.yaml"
    path.write_text(yaml.safe_dump(raw))

    with pytest.raises(ModelConfigError, match=f"{path}: required key 'cv_folds' is missing"):
        load_model_config(path)


def test_train_uses_recent_months_as_holdout(ridge_result: Any) -> None:
    assert ridge_result.holdout_months == ("2010-02", "2010-07")
    assert ridge_result.training_months == ("2006-01", "2010-01")
    assert set(ridge_result.holdout_predictions["sale_month"]) == {
        "2010-02",
        "2010-03",
        "2010-04",
        "2010-05",
        "2010-06",
        "2010-07",
    }


def test_train_drops_only_large_training_houses(ames: pd.DataFrame, ridge_result: Any) -> None:
    training, holdout = split_holdout(ames, holdout_months=6)

    assert ridge_result.dropped_training_rows == int((training["Gr_Liv_Area"] > 4000).sum())
    assert ridge_result.training_rows == len(training) - ridge_result.dropped_training_rows
    assert len(ridge_result.holdout_predictions) == len(holdout)


def test_train_picks_lowest_cv_error(ridge_result: Any) -> None:
    scores = [candidate.mean_rmse_log for candidate in ridge_result.cv_results]

    assert scores == sorted(scores)
    assert len(ridge_result.cv_results) == 2
    assert all(len(candidate.fold_rmse_log) == 3 for candidate in ridge_result.cv_results)
    assert ridge_result.params == ridge_result.cv_results[0].params


def test_train_metrics_match_onnx_predictions(ames: pd.DataFrame, ridge_result: Any) -> None:
    _, holdout = split_holdout(ames, holdout_months=6)
    predictions = ridge_result.holdout_predictions

    prices = predict_onnx(ridge_result.onnx_bytes, holdout)

    np.testing.assert_array_equal(predictions["predicted_price_usd"].to_numpy(), prices)
    expected = regression_metrics(holdout["Sale_Price"], prices)
    assert ridge_result.metrics == pytest.approx(expected)
    assert ridge_result.parity.max_relative_difference <= 1e-4


def test_train_beats_neighbourhood_baseline(ridge_result: Any) -> None:
    assert ridge_result.beats_baseline
    assert ridge_result.metrics["rmse_log"] < ridge_result.baseline_metrics["rmse_log"]
    assert ridge_result.metrics["mape_pct"] < ridge_result.baseline_metrics["mape_pct"]


def test_train_returns_schema_and_model(ridge_result: Any) -> None:
    session = ort.InferenceSession(ridge_result.onnx_bytes, providers=["CPUExecutionProvider"])

    assert ridge_result.feature_schema == feature_schema()
    assert [item.name for item in session.get_inputs()] == [
        column["name"] for column in feature_schema()
    ]
    assert ridge_result.strategy == "ridge"


def test_train_rejects_missing_prices(ames: pd.DataFrame) -> None:
    sales = ames.copy()
    sales.loc[sales.index[[3, 7]], "Sale_Price"] = np.nan

    with pytest.raises(ValueError, match="2 sales have a Sale_Price that is missing or <= 0"):
        train(sales, ModelConfig.from_mapping(SMALL_CONFIG))


def test_train_rejects_missing_columns(ames: pd.DataFrame) -> None:
    sales = ames.drop(columns=["Gr_Liv_Area", "Sale_Price"])

    with pytest.raises(KeyError, match=r"\['Gr_Liv_Area', 'Sale_Price'\]"):
        train(sales, ModelConfig.from_mapping(SMALL_CONFIG))


def test_train_rejects_strategy_without_grid(ames: pd.DataFrame) -> None:
    with pytest.raises(ModelConfigError, match="no grid for strategy 'mlp'"):
        train(ames, ModelConfig.from_mapping(SMALL_CONFIG), strategy_name="mlp")
