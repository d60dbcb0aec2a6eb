"""onnxruntime feeds from validated houses, with numpy only.

An exported model takes one (n, 1) input per column of `mhpe.features.INPUT_COLUMNS`:
float32 for numeric columns and string for categorical ones. A missing value is encoded
as training saw it: NaN for a number, which the model's imputer fills, and the string
"nan" for a category, because training casts a pandas NaN to str. The one-hot encoders
ignore a category they never saw, so an unknown neighbourhood still gets a price.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from mhpe.features import INPUT_COLUMNS

logger = logging.getLogger(__name__)

# The string that `pandas.Series.astype(str)` makes of a missing category during training.
MISSING_CATEGORY = "nan"
NUMERIC_COLUMNS: tuple[str, ...] = tuple(c.name for c in INPUT_COLUMNS if c.kind == "numeric")
CATEGORICAL_COLUMNS: tuple[str, ...] = tuple(
    c.name for c in INPUT_COLUMNS if c.kind == "categorical"
)


def build_feeds(houses: Sequence[Mapping[str, Any]]) -> dict[str, np.ndarray]:
    """Build one (n, 1) array per input column from houses keyed by column name.

    A column absent from a house, or None, counts as missing. Raises ValueError for an
    empty sequence, since onnxruntime cannot run on zero rows of every input.
    """
    if not houses:
        raise ValueError("build_feeds needs at least one house, got none")

    feeds: dict[str, np.ndarray] = {}
    for name in NUMERIC_COLUMNS:
        values = [_number(house.get(name)) for house in houses]
        feeds[name] = np.array(values, dtype=np.float32).reshape(-1, 1)
    for name in CATEGORICAL_COLUMNS:
        labels = [_category(house.get(name)) for house in houses]
        feeds[name] = np.array(labels, dtype=object).reshape(-1, 1)
    return feeds


def _number(value: Any) -> float:
    return math.nan if value is None else float(value)


def _category(value: Any) -> str:
    return MISSING_CATEGORY if value is None else str(value)
