"""Score ONNX models on a holdout frame with onnxruntime alone.

Feeds are built from the session's own inputs, not from the current feature list, so a
champion exported by an older release with other input columns is scored with the columns
it declares.
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pandas as pd

from mhpe.metrics import regression_metrics

PRICE_OUTPUT = "price_usd"
TARGET_COLUMN = "Sale_Price"
_STRING_INPUT = "tensor(string)"


def onnx_input_feeds(session: ort.InferenceSession, frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Build one (n, 1) array per session input from the frame's column of the same name.

    Raises KeyError naming the inputs that the frame lacks.
    """
    missing = [item.name for item in session.get_inputs() if item.name not in frame.columns]
    if missing:
        raise KeyError(f"the holdout lacks model inputs {missing}; it cannot score this model")

    feeds = {}
    for item in session.get_inputs():
        column = frame[item.name]
        if item.type == _STRING_INPUT:
            values = column.astype(str).to_numpy(dtype=object)
        else:
            values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float32)
        feeds[item.name] = values.reshape(-1, 1)
    return feeds


def predict_prices(onnx_bytes: bytes, frame: pd.DataFrame) -> np.ndarray:
    """Return the model's prices in dollars for every row of the frame (float64, shape (n,))."""
    session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    (prices,) = session.run([PRICE_OUTPUT], onnx_input_feeds(session, frame))
    return np.asarray(prices, dtype=np.float64).reshape(-1)


def score_model(onnx_bytes: bytes, holdout: pd.DataFrame) -> dict[str, float]:
    """Compute the regression metrics of an ONNX model on the holdout's Sale_Price."""
    return regression_metrics(holdout[TARGET_COLUMN], predict_prices(onnx_bytes, holdout))
