"""Recent labelled sales: accepted batches of sale months the champion never trained on.

The curated bucket holds the valid rows of every accepted batch, partitioned by sale month.
The months after the last month of the champion's training snapshot are new to it; the
latest `max_months` of them are the recent labelled sales.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import pandas as pd

from mhpe.data import SALE_MONTH_COLUMN
from mhpe.pipeline.curated import load_curated_sales
from mhpe.storage import ObjectStore

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LabelledBatches:
    """Recent curated sales, their months and the curated objects they came from."""

    sales: pd.DataFrame
    months: tuple[str, ...]
    objects: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"rows": len(self.sales), "months": list(self.months), "objects": len(self.objects)}


def recent_labelled_sales(
    store: ObjectStore, curated_bucket: str, *, after_month: str, max_months: int
) -> LabelledBatches:
    """Return the curated sales of the latest `max_months` months after `after_month`."""
    # NOTE: this reads every curated object to find the recent months, which is fine for years
    # of monthly batches but grows with the bucket; list the month partitions first when the
    # bucket holds far more.
    curated = load_curated_sales(store, curated_bucket)
    if curated.sales.empty:
        return LabelledBatches(pd.DataFrame(), (), ())

    later = sorted(month for month in curated.months if month > after_month)
    months = tuple(later[-max_months:])
    sales = curated.sales[curated.sales[SALE_MONTH_COLUMN].isin(months)].reset_index(drop=True)
    objects = tuple(
        key for key in curated.objects if any(f"{SALE_MONTH_COLUMN}={m}/" in key for m in months)
    )
    logger.info(
        "recent labelled sales: %d in months %s (after %s)", len(sales), list(months), after_month
    )
    return LabelledBatches(sales, months, objects)
