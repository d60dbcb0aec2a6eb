"""The per-square-foot target of gradient boosting and the MLP's seed ensemble.

Both fit on the committed sample of real Ames sales (tests/data/ames_sample.csv).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mhpe.data import read_batch
from mhpe.features import model_frame
from mhpe.onnx_export import predict_onnx
from mhpe.strategies import get_strategy
from mhpe.strategies.area_target import PerAreaTarget
from mhpe.strategies.mlp import TorchMLPRegressor
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import make_pipeline

SAMPLE_PATH = Path(__file__).resolve().parents[1] / "data" / "ames_sample.csv"

HGB_PARAMS = {
    "learning_rate": 0.1,
    "max_iter": 20,
    "max_leaf_nodes": 4,
    "min_samples_leaf": 5,
    "l2_regularization": 0.0,
    "random_state": 0,
}
MLP_PARAMS = {
    "hidden_units": (16,),
    "dropout": 0.0,
    "epochs": 5,
    "batch_size": 64,
    "learning_rate": 0.003,
    "weight_decay": 0.0,
    "threads": 1,
}


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return model_frame(read_batch(SAMPLE_PATH, name=SAMPLE_PATH.name))


@pytest.fixture(scope="module")
def log_prices() -> np.ndarray:
    sample = read_batch(SAMPLE_PATH, name=SAMPLE_PATH.name)
    return np.log(sample["Sale_Price"].to_numpy(dtype=np.float64))


def test_per_area_target_learns_price_per_sqft(frame: pd.DataFrame, log_prices: np.ndarray) -> None:
    columns = ["Lot_Area", "Year_Built"]
    linear = make_pipeline(
        ColumnTransformer([("keep", "passthrough", columns)]), LinearRegression()
    )
    model = PerAreaTarget(linear).fit(frame, log_prices)

    offset = frame["Log_Total_Area"].to_numpy(dtype=np.float32).astype(np.float64)
    direct = LinearRegression().fit(frame[columns], log_prices - offset)

    np.testing.assert_allclose(
        model.predict(frame), direct.predict(frame[columns]) + offset, rtol=1e-12
    )


def test_per_area_target_rejects_a_missing_living_area(
    frame: pd.DataFrame, log_prices: np.ndarray
) -> None:
    first = frame.index == frame.index[0]
    broken = frame.assign(
        Log_Total_Area=frame["Log_Total_Area"].mask(first),
        Log_Living_Area=frame["Log_Living_Area"].mask(first),
    )

    with pytest.raises(
        ValueError, match="1 of 332 sales have no finite Log_Total_Area or Log_Living_Area"
    ):
        PerAreaTarget(LinearRegression()).fit(broken, log_prices)


def test_per_area_price_without_basement_area(frame: pd.DataFrame) -> None:
    """A house sent without its basement area is priced from its living area, in ONNX too."""
    sample = read_batch(SAMPLE_PATH, name=SAMPLE_PATH.name)
    strategy = get_strategy("hist_gradient_boosting")
    params = {**HGB_PARAMS, "target": "log_price_per_sqft"}
    prices = sample["Sale_Price"].to_numpy(dtype=np.float64)
    estimator = strategy.build_estimator(params).fit(frame, prices)
    onnx_bytes = strategy.to_onnx(estimator, frame.head(3))
    houses = sample.head(5).astype({"Total_Bsmt_SF": float})
    houses["Total_Bsmt_SF"] = np.nan

    onnx_prices = predict_onnx(onnx_bytes, houses)

    assert np.all(np.isfinite(onnx_prices))
    np.testing.assert_allclose(onnx_prices, estimator.predict(model_frame(houses)), rtol=1e-4)


def test_gradient_boosting_rejects_an_unknown_target() -> None:
    params = {**HGB_PARAMS, "target": "price_per_bedroom"}

    with pytest.raises(ValueError, match="target 'price_per_bedroom' is not one of"):
        get_strategy("hist_gradient_boosting").resolve_params(params)


def test_mlp_ensemble_is_the_mean_of_its_seeds(frame: pd.DataFrame, log_prices: np.ndarray) -> None:
    features = frame[["Gr_Liv_Area", "Lot_Area", "Year_Built"]].to_numpy(dtype=np.float32)
    features = (features - features.mean(axis=0)) / features.std(axis=0)

    ensemble = TorchMLPRegressor(**MLP_PARAMS, random_state=3, ensemble_size=2)
    singles = [TorchMLPRegressor(**MLP_PARAMS, random_state=seed) for seed in (3, 4)]
    ensemble.fit(features, log_prices)
    expected = np.mean(
        [single.fit(features, log_prices).predict(features) for single in singles], 0
    )

    np.testing.assert_allclose(ensemble.predict(features), expected, rtol=1e-6)
    assert not np.allclose(singles[0].predict(features), singles[1].predict(features))


def test_mlp_rejects_an_empty_ensemble(frame: pd.DataFrame, log_prices: np.ndarray) -> None:
    features = frame[["Gr_Liv_Area"]].to_numpy(dtype=np.float32)

    with pytest.raises(ValueError, match="ensemble_size must be at least 1, got 0"):
        TorchMLPRegressor(**MLP_PARAMS, ensemble_size=0).fit(features, log_prices)
