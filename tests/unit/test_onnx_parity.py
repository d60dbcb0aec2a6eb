"""ONNX export internals: derived features in the graph, the HistGradientBoosting
workaround, and the parity check's error on a mismatch. Real Ames sales throughout."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pandas as pd
import pytest
from mhpe.data import load_ames
from mhpe.features import (
    DERIVED_FEATURES,
    LOG_FEATURES,
    ORDINAL_SCALES,
    derive_features_numpy,
    model_frame,
    onnx_feeds,
)
from mhpe.onnx_export import (
    TARGET_OPSET,
    ParityError,
    _IntMissingTracksContainer,
    _with_float32_thresholds,
    check_parity,
    derivation_model,
    predict_onnx,
    register_hist_gradient_boosting_converter,
)
from mhpe.strategies import get_strategy
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType
from skl2onnx.operator_converters.random_forest import (
    convert_sklearn_random_forest_regressor_converter,
)
from sklearn.ensemble import HistGradientBoostingRegressor

HGB_PARAMS = {
    "learning_rate": 0.1,
    "max_iter": 80,
    "max_leaf_nodes": 8,
    "min_samples_leaf": 5,
    "l2_regularization": 0.0,
    "random_state": 0,
    "target": "log_price",
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
def onnx_derived(ames: pd.DataFrame) -> dict[str, np.ndarray]:
    session = ort.InferenceSession(
        derivation_model().SerializeToString(), providers=["CPUExecutionProvider"]
    )
    names = [output.name for output in session.get_outputs()]
    values = session.run(names, onnx_feeds(ames))
    return {name: value.reshape(-1) for name, value in zip(names, values, strict=True)}


def test_derivation_graph_outputs_every_feature(onnx_derived: dict[str, np.ndarray]) -> None:
    assert list(onnx_derived) == [feature.name for feature in DERIVED_FEATURES]


@pytest.mark.parametrize("feature", [feature.name for feature in DERIVED_FEATURES])
def test_derived_feature_onnx_equals_numpy(
    feature: str, ames: pd.DataFrame, onnx_derived: dict[str, np.ndarray]
) -> None:
    columns = {name: ames[name].to_numpy() for name in ames.columns}

    expected = derive_features_numpy(columns)[feature]

    assert expected.dtype == np.float32
    if feature in LOG_FEATURES:
        # numpy's and onnxruntime's float32 log may differ in the last bit.
        np.testing.assert_allclose(onnx_derived[feature], expected, rtol=1e-6)
    else:
        np.testing.assert_array_equal(onnx_derived[feature], expected)


def test_model_frame_uses_numpy_derivation(ames: pd.DataFrame) -> None:
    frame = model_frame(ames)
    derived = derive_features_numpy({name: ames[name].to_numpy() for name in ames.columns})

    for name, values in derived.items():
        np.testing.assert_array_equal(frame[name].to_numpy(), values)


def test_derived_features_hand_computed_house() -> None:
    house = {
        "Gr_Liv_Area": np.array([1500.0]),
        "Total_Bsmt_SF": np.array([1000.0]),
        "Year_Sold": np.array([2009.0]),
        "Year_Built": np.array([1979.0]),
        "Year_Remod_Add": np.array([2001.0]),
        "Full_Bath": np.array([2.0]),
        "Half_Bath": np.array([1.0]),
        "Bsmt_Full_Bath": np.array([1.0]),
        "Bsmt_Half_Bath": np.array([1.0]),
        "Wood_Deck_SF": np.array([100.0]),
        "Open_Porch_SF": np.array([20.0]),
        "Enclosed_Porch": np.array([0.0]),
        "Three_season_porch": np.array([0.0]),
        "Screen_Porch": np.array([30.0]),
        "Lot_Area": np.array([9000.0]),
        "Garage_Area": np.array([400.0]),
        "Garage_Cars": np.array([2.0]),
        "Overall_Cond": np.array(["Good"], dtype=object),
        "Heating_QC": np.array(["Excellent"], dtype=object),
        "Exter_Cond": np.array(["Typical"], dtype=object),
        "Bsmt_Exposure": np.array(["Av"], dtype=object),
        "BsmtFin_Type_1": np.array(["GLQ"], dtype=object),
        "Garage_Finish": np.array(["RFn"], dtype=object),
        "Functional": np.array(["Typ"], dtype=object),
    }

    derived = {name: float(value[0]) for name, value in derive_features_numpy(house).items()}

    assert derived["Total_Area_sqft"] == 2500.0
    assert derived["Age_At_Sale_years"] == 30.0
    assert derived["Years_Since_Remodel"] == 8.0
    assert derived["Age_At_Sale_Squared"] == 900.0
    assert derived["Total_Bathrooms"] == 4.0
    assert derived["Porch_Deck_Area_sqft"] == 150.0
    assert derived["Overall_Cond_Score"] == 7.0
    assert derived["Cond_x_Living_Area"] == 7.0 * 1500.0
    assert derived["Heating_x_Living_Area"] == 5.0 * 1500.0
    assert derived["BsmtFin_x_Basement_Area"] == 6.0 * 1000.0
    assert derived["Garage_Finish_x_Cars"] == 2.0 * 2.0
    assert derived["Log_Total_Area"] == pytest.approx(np.log(2501.0), rel=1e-6)


def test_unknown_rating_gets_scale_default(ames: pd.DataFrame) -> None:
    houses = ames.head(3).copy()
    houses["Overall_Cond"] = ["Spectacular", "", "nan"]
    session = ort.InferenceSession(
        derivation_model().SerializeToString(), providers=["CPUExecutionProvider"]
    )

    (onnx_scores,) = session.run(["Overall_Cond_Score"], onnx_feeds(houses))
    numpy_scores = derive_features_numpy(
        {name: houses[name].to_numpy() for name in houses.columns}
    )["Overall_Cond_Score"]

    default = ORDINAL_SCALES["Overall_Cond"].default
    assert onnx_scores.reshape(-1).tolist() == [default] * 3
    assert numpy_scores.tolist() == [default] * 3


def test_missing_tracks_container_casts_booleans() -> None:
    recorded: dict[str, object] = {}

    class Recorder:
        def add_node(self, op_type: str, inputs: object, outputs: object, **attrs: object) -> None:
            recorded.update(attrs)

    container = _IntMissingTracksContainer(Recorder())
    container.add_node(
        "TreeEnsembleRegressor",
        "x",
        "y",
        nodes_missing_value_tracks_true=[True, False, np.uint8(1)],
    )

    assert recorded["nodes_missing_value_tracks_true"] == [1, 0, 1]
    assert all(type(value) is int for value in recorded["nodes_missing_value_tracks_true"])


def test_float32_thresholds_keep_predictions(ames: pd.DataFrame) -> None:
    X = model_frame(ames).select_dtypes("number").to_numpy(dtype=np.float32)
    y = np.log(ames["Sale_Price"].to_numpy(dtype=np.float64))
    model = HistGradientBoostingRegressor(max_iter=40, random_state=0).fit(X, y)

    adjusted = _with_float32_thresholds(model)

    np.testing.assert_array_equal(adjusted.predict(X), model.predict(X))
    for predictors in adjusted._predictors:
        nodes = predictors[0].nodes
        thresholds = nodes["num_threshold"][nodes["is_leaf"] == 0]
        np.testing.assert_array_equal(thresholds.astype(np.float32).astype(np.float64), thresholds)


def test_hist_gradient_boosting_parity_with_coordinates(ames: pd.DataFrame) -> None:
    # Latitude and Longitude are not exact in float32, the case where rounding a
    # threshold to the nearest float32 flips decisions.
    strategy = get_strategy("hist_gradient_boosting")
    X = model_frame(ames)
    prices = ames["Sale_Price"].to_numpy(dtype=np.float64)
    estimator = strategy.build_estimator(HGB_PARAMS).fit(X, prices)

    report = check_parity(estimator, strategy.to_onnx(estimator, X.head(3)), ames)

    assert report.max_relative_difference <= 1e-4


def test_unpatched_converter_still_fails(ames: pd.DataFrame) -> None:
    # When this test fails, skl2onnx converts HistGradientBoosting by itself again and
    # _IntMissingTracksContainer can go.
    X = model_frame(ames.head(200)).select_dtypes("number").to_numpy(dtype=np.float32)
    y = np.log(ames["Sale_Price"].head(200).to_numpy(dtype=np.float64))
    model = HistGradientBoostingRegressor(max_iter=5, random_state=0).fit(X, y)
    input_types = [("X", FloatTensorType([None, X.shape[1]]))]

    register_hist_gradient_boosting_converter(convert_sklearn_random_forest_regressor_converter)
    try:
        with pytest.raises(
            ValueError, match="Unable to create node 'TreeEnsembleRegressor'"
        ) as raised:
            convert_sklearn(model, initial_types=input_types, target_opset=TARGET_OPSET)
    finally:
        register_hist_gradient_boosting_converter()

    cause = raised.value.__cause__ or raised.value.__context__
    assert "Expected an int, got a boolean" in str(cause)

    converted = convert_sklearn(model, initial_types=input_types, target_opset=TARGET_OPSET)
    assert converted.graph.node[0].op_type == "TreeEnsembleRegressor"


def test_parity_error_reports_the_worst_row(ames: pd.DataFrame) -> None:
    strategy = get_strategy("ridge")
    sales = ames.head(200)
    X = model_frame(sales)
    prices = sales["Sale_Price"].to_numpy(dtype=np.float64)
    native = strategy.build_estimator({"alpha": 1.0}).fit(X, prices)
    other = strategy.build_estimator({"alpha": 1000.0}).fit(X, prices)
    other_bytes = strategy.to_onnx(other, X.head(3))

    with pytest.raises(ParityError) as raised:
        check_parity(native, other_bytes, sales, tolerance=1e-4)

    error = raised.value
    native_prices = native.predict(X)
    onnx_prices = predict_onnx(other_bytes, sales)
    relative = np.abs(onnx_prices - native_prices) / native_prices
    assert error.row == int(np.argmax(relative))
    assert error.max_relative_difference == pytest.approx(relative.max(), rel=1e-9)
    assert error.native_price_usd == pytest.approx(native_prices[error.row])
    assert error.onnx_price_usd == pytest.approx(onnx_prices[error.row])
    assert f"row {error.row}" in str(error)
    assert "exceeds 0.0001" in str(error)


def test_parity_rejects_empty_sales(ames: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="at least one sale"):
        check_parity(None, b"", ames.head(0))


def test_exported_graph_is_valid_onnx(ames: pd.DataFrame) -> None:
    strategy = get_strategy("ridge")
    X = model_frame(ames.head(100))
    estimator = strategy.build_estimator({"alpha": 5.0}).fit(X, ames["Sale_Price"].head(100))

    model = onnx.load_from_string(strategy.to_onnx(estimator, X.head(3)))

    onnx.checker.check_model(model, full_check=True)
    assert [node.op_type for node in model.graph.node][-1] == "Exp"
