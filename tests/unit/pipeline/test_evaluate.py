"""The champion/challenger decision, both ways, and scoring ONNX models by their own inputs."""

from __future__ import annotations

import numpy as np
import onnx
import pandas as pd
import pytest
from mhpe.pipeline.evaluate import decide_promotion
from mhpe.pipeline.scoring import predict_prices, score_model
from onnx import TensorProto, helper

BASELINE = {"rmse_usd": 50_000.0}


def test_challenger_beating_champion_is_promoted() -> None:
    decision = decide_promotion(
        "rmse_usd", {"rmse_usd": 20_000.0}, {"rmse_usd": 25_000.0}, BASELINE
    )

    assert decision.promote is True
    assert decision.compared_with == "champion"
    assert "below the champion's" in decision.reason


def test_champion_beating_challenger_is_kept() -> None:
    decision = decide_promotion(
        "rmse_usd", {"rmse_usd": 26_000.0}, {"rmse_usd": 25_000.0}, BASELINE
    )

    assert decision.promote is False
    assert decision.compared_with == "champion"


def test_tie_keeps_champion() -> None:
    decision = decide_promotion(
        "rmse_usd", {"rmse_usd": 25_000.0}, {"rmse_usd": 25_000.0}, BASELINE
    )

    assert decision.promote is False


@pytest.mark.parametrize(("rmse", "promote"), [(49_999.0, True), (50_000.0, False)])
def test_first_model_must_beat_baseline(rmse: float, promote: bool) -> None:
    decision = decide_promotion("rmse_usd", {"rmse_usd": rmse}, None, BASELINE)

    assert decision.promote is promote
    assert decision.compared_with == "baseline"


def test_decision_uses_configured_metric() -> None:
    challenger = {"rmse_usd": 30_000.0, "mape_pct": 8.0}
    champion = {"rmse_usd": 25_000.0, "mape_pct": 9.0}

    assert decide_promotion("mape_pct", challenger, champion, BASELINE).promote is True
    assert decide_promotion("rmse_usd", challenger, champion, BASELINE).promote is False


def _price_model(inputs: list[tuple[str, int]]) -> bytes:
    """A tiny ONNX graph: price_usd = 1000 * area, with extra declared inputs it ignores."""
    graph = helper.make_graph(
        [helper.make_node("Mul", ["area", "scale"], ["price_usd"])],
        "price",
        [helper.make_tensor_value_info(name, kind, [None, 1]) for name, kind in inputs],
        [helper.make_tensor_value_info("price_usd", TensorProto.FLOAT, [None, 1])],
        initializer=[helper.make_tensor("scale", TensorProto.FLOAT, [1], [1000.0])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def test_scoring_feeds_only_the_model_inputs() -> None:
    model = _price_model([("area", TensorProto.FLOAT), ("hood", TensorProto.STRING)])
    holdout = pd.DataFrame(
        {"area": [100, 200], "hood": ["A", "B"], "extra": [1, 2], "Sale_Price": [1e5, 2.5e5]}
    )

    prices = predict_prices(model, holdout)
    metrics = score_model(model, holdout)

    np.testing.assert_allclose(prices, [100_000.0, 200_000.0])
    assert metrics["rmse_usd"] == pytest.approx(np.sqrt((0 + 50_000.0**2) / 2))


def test_scoring_names_missing_inputs() -> None:
    model = _price_model([("area", TensorProto.FLOAT), ("hood", TensorProto.STRING)])

    with pytest.raises(KeyError, match="hood"):
        predict_prices(model, pd.DataFrame({"area": [1.0]}))
