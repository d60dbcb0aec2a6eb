"""The usual design, for comparison: FastAPI on uvicorn, the scikit-learn pipeline from a pickle.

It validates the same request model as the serve function (`HouseFeatures`), builds a
one-row DataFrame, derives the model frame with pandas and calls the fitted estimator's
predict. No gateway, no audit, no metrics.

Run: MHPE_BASELINE_PICKLE=model.pkl uvicorn benchmarks.serve_baseline_app:app --port PORT
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import pandas as pd
from fastapi import FastAPI
from mhpe.features import model_frame
from mhpe.serving.api_models import HouseFeatures

PICKLE_ENV = "MHPE_BASELINE_PICKLE"

estimator = pickle.loads(Path(os.environ[PICKLE_ENV]).read_bytes())
app = FastAPI(title="baseline: scikit-learn pipeline from a pickle")


@app.post("/predict")
def predict(house: HouseFeatures) -> dict[str, Any]:  # type: ignore[valid-type]
    frame = pd.DataFrame([house.model_dump()])
    (price,) = estimator.predict(model_frame(frame))
    return {"price_usd": round(float(price), 2)}
