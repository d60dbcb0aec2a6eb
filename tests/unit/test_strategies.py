"""Model strategies on real Ames sales: fit, ONNX export, parity, unknown categories.

Each strategy fits on the committed sample of 332 real sales (tests/data/ames_sample.csv)
with small parameters, and the parity check runs on all 2,930 sales.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pandas as pd
import pytest
from mhpe.data import load_ames, read_batch
from mhpe.features import INPUT_COLUMNS, feature_schema, model_frame, onnx_feeds
from mhpe.onnx_export import OUTPUT_NAME, check_parity, predict_onnx
from mhpe.strategies import STRATEGIES, get_strategy

SAMPLE_PATH = Path(__file__).resolve().parents[1] / "data" / "ames_sample.csv"

SMALL_PARAMS: dict[str, dict[str, Any]] = {
    "ridge": {"alpha": 5.0},
    "random_forest": {
        "n_estimators": 20,
        "max_features": 0.4,
        "min_samples_leaf": 1,
        "max_depth": None,
        "n_jobs": 1,
        "random_state": 0,
    },
    "hist_gradient_boosting": {
        "learning_rate": 0.1,
        "max_iter": 60,
        "max_leaf_nodes": 6,
        "min_samples_leaf": 5,
        "l2_regularization": 0.0,
        "random_state": 0,
        "target": "log_price_per_sqft",
    },
    "mlp": {
        "hidden_units": [32, 16],
        "dropout": 0.1,
        "epochs": 15,
        "batch_size": 64,
        "learning_rate": 0.003,
        "weight_decay": 0.0001,
        "random_state": 0,
        "threads": 1,
        "ensemble_size": 2,
    },
}
SMALL_PARAMS["blend"] = {
    "components": ["ridge", "hist_gradient_boosting", "mlp"],
    "weights": [0.5, 0.3, 0.2],
    **{
        f"{component}__{key}": value
        for component in ("ridge", "hist_gradient_boosting", "mlp")
        for key, value in SMALL_PARAMS[component].items()
    },
}

# Packages that must not be needed to run an exported model.
TRAINING_ONLY_MODULES = ("sklearn", "skl2onnx", "torch", "pandas", "mhpe")


@pytest.fixture(autouse=True)
def _no_cloud_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


@pytest.fixture(scope="module")
def sample() -> pd.DataFrame:
    return read_batch(SAMPLE_PATH, name=SAMPLE_PATH.name)


@pytest.fixture(scope="module")
def ames() -> pd.DataFrame:
    return load_ames()


@pytest.fixture(scope="module")
def fitted_models(sample: pd.DataFrame) -> dict[str, tuple[Any, bytes]]:
    """Fit every strategy once on the sample and export it."""
    X = model_frame(sample)
    prices = sample["Sale_Price"].to_numpy(dtype=np.float64)
    models = {}
    for name, params in SMALL_PARAMS.items():
        strategy = get_strategy(name)
        estimator = strategy.build_estimator(params).fit(X, prices)
        models[name] = (estimator, strategy.to_onnx(estimator, X.head(3)))
    return models


def test_every_strategy_has_small_params() -> None:
    assert set(SMALL_PARAMS) == set(STRATEGIES)


@pytest.mark.parametrize("name", sorted(SMALL_PARAMS))
def test_strategy_onnx_parity_on_all_sales(
    name: str, fitted_models: dict[str, tuple[Any, bytes]], ames: pd.DataFrame
) -> None:
    estimator, onnx_bytes = fitted_models[name]

    report = check_parity(estimator, onnx_bytes, ames, tolerance=1e-4)

    assert report.rows == len(ames)
    assert report.max_relative_difference <= 1e-4


@pytest.mark.parametrize("name", sorted(SMALL_PARAMS))
def test_strategy_prices_are_plausible(
    name: str, fitted_models: dict[str, tuple[Any, bytes]], sample: pd.DataFrame
) -> None:
    _, onnx_bytes = fitted_models[name]

    prices = predict_onnx(onnx_bytes, sample)
    log_error = np.log(prices) - np.log(sample["Sale_Price"].to_numpy(dtype=np.float64))

    assert prices.shape == (len(sample),)
    assert np.all(np.isfinite(prices))
    # Fitted on these very sales, every strategy is well inside a factor of 1.5 on average.
    assert float(np.sqrt(np.mean(log_error**2))) < np.log(1.5)


@pytest.mark.parametrize("name", sorted(SMALL_PARAMS))
def test_strategy_prices_unknown_categories(
    name: str, fitted_models: dict[str, tuple[Any, bytes]], sample: pd.DataFrame
) -> None:
    _, onnx_bytes = fitted_models[name]
    houses = sample.head(5).copy()
    houses["Neighborhood"] = "Atlantis"
    houses["Overall_Cond"] = "Unheard_Of"
    houses["Sale_Type"] = ""

    prices = predict_onnx(onnx_bytes, houses)

    assert np.all(np.isfinite(prices))
    assert np.all(prices > 1_000)
    assert np.all(prices < 10_000_000)


@pytest.mark.parametrize("name", sorted(SMALL_PARAMS))
def test_strategy_prices_missing_numbers(
    name: str, fitted_models: dict[str, tuple[Any, bytes]], sample: pd.DataFrame
) -> None:
    estimator, onnx_bytes = fitted_models[name]
    houses = sample.head(5).astype({"Lot_Frontage": float, "Garage_Area": float})
    houses.loc[:, ["Lot_Frontage", "Garage_Area"]] = np.nan

    prices = predict_onnx(onnx_bytes, houses)
    report = check_parity(estimator, onnx_bytes, houses, tolerance=1e-4)

    assert np.all(np.isfinite(prices))
    assert report.max_relative_difference <= 1e-4


@pytest.mark.parametrize("name", sorted(SMALL_PARAMS))
def test_strategy_graph_has_raw_inputs(
    name: str, fitted_models: dict[str, tuple[Any, bytes]]
) -> None:
    _, onnx_bytes = fitted_models[name]
    model = onnx.load_from_string(onnx_bytes)
    session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])

    inputs = [(item.name, item.type) for item in session.get_inputs()]
    expected = [
        (column["name"], "tensor(float)" if column["type"] == "float32" else "tensor(string)")
        for column in feature_schema()
    ]
    assert inputs == expected
    assert [output.name for output in session.get_outputs()] == [OUTPUT_NAME]
    assert {opset.domain for opset in model.opset_import} <= {"", "ai.onnx.ml"}


def test_exported_model_runs_without_training_packages(
    fitted_models: dict[str, tuple[Any, bytes]], sample: pd.DataFrame, tmp_path: Path
) -> None:
    _, onnx_bytes = fitted_models["blend"]
    model_path = tmp_path / "blend.onnx"
    model_path.write_bytes(onnx_bytes)
    house = {column.name: sample.iloc[0][column.name] for column in INPUT_COLUMNS}
    house_path = tmp_path / "house.json"
    house_path.write_text(json.dumps(house, default=float))
    expected = predict_onnx(onnx_bytes, sample.head(1))[0]

    script = f"""
import json, sys
import numpy as np
import onnxruntime as ort
schema = {json.dumps(feature_schema())}
house = json.load(open({str(house_path)!r}))
feeds = {{
    column["name"]: np.array(
        [[house[column["name"]]]], dtype=np.float32 if column["type"] == "float32" else object
    )
    for column in schema
}}
session = ort.InferenceSession({str(model_path)!r}, providers=["CPUExecutionProvider"])
price = float(session.run(None, feeds)[0][0, 0])
loaded = sorted(m for m in {list(TRAINING_ONLY_MODULES)!r} if m in sys.modules)
print(json.dumps({{"price": price, "loaded": loaded}}))
"""
    completed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )

    assert completed.returncode == 0, completed.stderr
    output = json.loads(completed.stdout)
    assert output["loaded"] == []
    assert output["price"] == pytest.approx(expected, rel=1e-6)


def test_onnx_feeds_match_schema(sample: pd.DataFrame) -> None:
    feeds = onnx_feeds(sample.head(4))

    assert list(feeds) == [column["name"] for column in feature_schema()]
    for column in feature_schema():
        assert feeds[column["name"]].shape == (4, 1)
        expected_kind = "f" if column["type"] == "float32" else "O"
        assert feeds[column["name"]].dtype.kind == expected_kind


def test_resolve_params_rejects_unknown_parameter() -> None:
    params = {**SMALL_PARAMS["ridge"], "alpah": 3}

    with pytest.raises(ValueError, match=r"no parameter\(s\) \['alpah'\]"):
        get_strategy("ridge").resolve_params(params)


def test_resolve_params_rejects_missing_parameter() -> None:
    params = dict(SMALL_PARAMS["hist_gradient_boosting"])
    del params["max_iter"]

    with pytest.raises(ValueError, match=r"needs a value for parameter\(s\) \['max_iter'\]"):
        get_strategy("hist_gradient_boosting").resolve_params(params)


def test_param_grid_expands_candidates() -> None:
    grid = {"alpha": [1, 10, 100]}

    candidates = get_strategy("ridge").param_grid(grid)

    assert candidates == [{"alpha": 1}, {"alpha": 10}, {"alpha": 100}]


def test_param_grid_rejects_scalar_values() -> None:
    with pytest.raises(ValueError, match="'alpha' must be a non-empty list"):
        get_strategy("ridge").param_grid({"alpha": 3})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"weights": [0.5, 0.5]}, "one weight per component"),
        ({"weights": [1.0, -0.5, 0.5]}, "must be >= 0"),
        ({"components": ["ridge", "blend", "mlp"]}, "'blend' is not a strategy"),
        ({"ridge__alpah": 1.0}, r"no parameter\(s\) \['alpah'\]"),
        ({"lasso__alpha": 1.0}, "'lasso__alpha' is not"),
    ],
)
def test_blend_rejects_invalid_params(change: dict[str, Any], message: str) -> None:
    params = {**SMALL_PARAMS["blend"], **change}

    with pytest.raises(ValueError, match=message):
        get_strategy("blend").resolve_params(params)


def test_blend_equals_weighted_components(
    fitted_models: dict[str, tuple[Any, bytes]], sample: pd.DataFrame
) -> None:
    estimator, _ = fitted_models["blend"]
    voting = estimator.regressor_.named_steps["blend"]
    X = model_frame(sample.head(20))

    log_prices = [component.predict(X) for component in voting.estimators_]
    expected = np.exp(0.5 * log_prices[0] + 0.3 * log_prices[1] + 0.2 * log_prices[2])

    np.testing.assert_allclose(estimator.predict(X), expected, rtol=1e-12)


def test_get_strategy_names_known_strategies() -> None:
    with pytest.raises(KeyError, match="known strategies"):
        get_strategy("xgboost")
