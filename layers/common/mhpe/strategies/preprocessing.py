"""Column preprocessing shared by the strategies, all convertible by skl2onnx."""

from __future__ import annotations

import numpy as np
from skl2onnx.sklapi import CastTransformer
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from mhpe.features import CATEGORICAL_FEATURES, LINEAR_NUMERIC_FEATURES, TREE_NUMERIC_FEATURES


def _one_hot() -> OneHotEncoder:
    # An unknown category (a new neighbourhood, say) encodes as all zeros, so it still
    # gets a price.
    return OneHotEncoder(handle_unknown="ignore", sparse_output=False)


def scaled_preprocessor() -> ColumnTransformer:
    """Impute and standardise numeric features (logs included), one-hot the categories."""
    numeric = Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())])
    return ColumnTransformer(
        [
            ("numeric", numeric, list(LINEAR_NUMERIC_FEATURES)),
            ("categorical", _one_hot(), list(CATEGORICAL_FEATURES)),
        ],
        sparse_threshold=0.0,
    )


def tree_preprocessor() -> Pipeline:
    """Impute numeric features unscaled, one-hot the categories, cast all to float32.

    Trees need no scaling, and the float32 cast makes the trees learn their thresholds on
    the same float32 values that the ONNX TreeEnsemble compares, which keeps ONNX and
    scikit-learn prices within 1e-4 of each other.
    """
    columns = ColumnTransformer(
        [
            ("numeric", SimpleImputer(strategy="median"), list(TREE_NUMERIC_FEATURES)),
            ("categorical", _one_hot(), list(CATEGORICAL_FEATURES)),
        ],
        sparse_threshold=0.0,
    )
    return Pipeline([("columns", columns), ("float32", CastTransformer(dtype=np.float32))])
