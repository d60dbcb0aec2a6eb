"""The curated bucket: valid rows of accepted batches, as Parquet partitioned by sale month.

Keys are `sales/sale_month=YYYY-MM/batch={batch key}/{upload order}_{version label}.parquet`,
where the upload order is S3's event sequencer, padded. Every accepted version of a batch
writes new keys, so nothing is overwritten. When a batch key is accepted again (a corrected
upload), readers take only its latest upload in each month.

Readers also drop sales that repeat another curated sale in every column, such as the same
file uploaded again under another key. The Ames sales contain no such pair: each sale has
its own coordinates, lot and price, so two equal rows are one sale delivered twice.
"""

from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass
from urllib.parse import quote, unquote

import pandas as pd

from mhpe.data import SALE_MONTH_COLUMN, add_sale_month
from mhpe.pipeline.state import BatchRef
from mhpe.storage import ObjectLocation, ObjectStore

logger = logging.getLogger(__name__)

SALES_PREFIX = "sales/"
PARQUET_CONTENT_TYPE = "application/vnd.apache.parquet"
_KEY_PATTERN = re.compile(
    r"^sales/sale_month=(?P<month>\d{4}-\d{2})/batch=(?P<batch>[^/]+)/"
    r"(?P<order>[0-9A-F]{64})_(?P<version>[^/]+)\.parquet$"
)


def curated_key(month: str, batch: BatchRef) -> str:
    # The batch key is percent-encoded so that its slashes stay inside one key segment.
    return (
        f"{SALES_PREFIX}{SALE_MONTH_COLUMN}={month}/batch={quote(batch.key, safe='')}/"
        f"{batch.upload_order}_{batch.version_label}.parquet"
    )


def write_curated_partitions(
    valid_sales: pd.DataFrame, batch: BatchRef, store: ObjectStore, bucket: str
) -> list[ObjectLocation]:
    """Write the valid rows of one batch, one Parquet object per sale month, in month order."""
    with_month = add_sale_month(valid_sales)
    locations = []
    for month, rows in with_month.groupby(SALE_MONTH_COLUMN, sort=True):
        buffer = io.BytesIO()
        rows.drop(columns=SALE_MONTH_COLUMN).reset_index(drop=True).to_parquet(
            buffer, index=False, engine="pyarrow"
        )
        metadata = {
            "source-bucket": batch.bucket,
            "source-key": quote(batch.key, safe="/"),
            "source-version": batch.version_label,
            "rows": str(len(rows)),
        }
        locations.append(
            store.create(
                bucket,
                curated_key(str(month), batch),
                buffer.getvalue(),
                content_type=PARQUET_CONTENT_TYPE,
                metadata=metadata,
            )
        )
    return locations


def find_upload_order(store: ObjectStore, bucket: str, batch: BatchRef) -> str | None:
    """Return the upload order of curated partitions of this batch version, None if none exist."""
    for summary in store.list(bucket, SALES_PREFIX):
        match = _KEY_PATTERN.match(summary.key)
        if match is None:
            continue
        if unquote(match["batch"]) == batch.key and match["version"] == batch.version_label:
            return match["order"]
    return None


@dataclass(frozen=True)
class CuratedSales:
    """All curated sales in key order, with `sale_month`, and the objects they came from."""

    sales: pd.DataFrame
    objects: tuple[str, ...]

    @property
    def months(self) -> list[str]:
        return sorted(self.sales[SALE_MONTH_COLUMN].unique()) if len(self.sales) else []


def load_curated_sales(store: ObjectStore, bucket: str) -> CuratedSales:
    """Read every current curated partition into one frame, sorted by key for reproducibility.

    Of several accepted versions of the same batch key in a month, only the latest upload is
    read: the highest sequencer, then the latest write, then the highest key. Of sales equal
    in every column, only the first in key order is kept.
    """
    latest: dict[tuple[str, str], tuple[str, object, str]] = {}
    for summary in store.list(bucket, SALES_PREFIX):
        match = _KEY_PATTERN.match(summary.key)
        if match is None:
            logger.warning(
                "ignoring curated object %s: its key is not a sales partition", summary.key
            )
            continue
        slot = (match["month"], match["batch"])
        current = latest.get(slot)
        candidate = (match["order"], summary.last_modified, summary.key)
        if current is None or candidate > current:
            latest[slot] = candidate

    keys = sorted(key for _, _, key in latest.values())
    frames = []
    for key in keys:
        frame = pd.read_parquet(io.BytesIO(store.read(ObjectLocation(bucket, key))))
        match = _KEY_PATTERN.match(key)
        assert match is not None
        frames.append(frame.assign(**{SALE_MONTH_COLUMN: match["month"]}))

    sales = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    sales = drop_repeated_sales(sales)
    logger.info("loaded %d curated sales from %d objects in %s", len(sales), len(keys), bucket)
    return CuratedSales(sales, tuple(keys))


def drop_repeated_sales(sales: pd.DataFrame) -> pd.DataFrame:
    """Keep the first of the sales that are equal in every column, with a fresh index."""
    if sales.empty:
        return sales
    repeated = sales.duplicated(keep="first")
    if repeated.any():
        logger.info("dropped %d curated sales that repeat an earlier sale", int(repeated.sum()))
    return sales[~repeated].reset_index(drop=True)
