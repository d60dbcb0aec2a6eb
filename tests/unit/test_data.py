"""Tests of mhpe.data on the real Ames sales: loading, monthly batches, reading, versions.

tests/data/ames_sample.csv contains 332 real sales from `load_ames()`, without sale_month.
It has 6 sales per month (`group.sample(n=6, random_state=2026)` for each month's group)
and rows 850 (remodelled a year before it was built) and 2180 (a Partial sale built the
year after its sale). Rows keep their original order, written with `snapshot_bytes`.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import pandas as pd
import pytest
from mhpe.data import (
    AMES_ROWS,
    SALE_MONTH_COLUMN,
    add_sale_month,
    dataset_version,
    load_ames,
    read_batch,
    snapshot_bytes,
    write_monthly_batches,
    write_snapshot,
)
from mhpe.exceptions import BatchExistsError, BatchFormatError
from mhpe.features import INPUT_COLUMNS
from mhpe.schema import SALE_COLUMNS, TARGET_COLUMN

os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")

SAMPLE_PATH = Path(__file__).resolve().parents[1] / "data" / "ames_sample.csv"
FIRST_MONTH = "2006-01"
LAST_MONTH = "2010-07"
MONTHS = [str(period) for period in pd.period_range(FIRST_MONTH, LAST_MONTH, freq="M")]


@pytest.fixture(scope="module")
def ames() -> pd.DataFrame:
    return load_ames()


@pytest.fixture(scope="module")
def sample_csv() -> bytes:
    return SAMPLE_PATH.read_bytes()


def test_load_ames_has_every_sale(ames: pd.DataFrame) -> None:
    assert len(ames) == AMES_ROWS == 2930
    assert "rownames" not in ames.columns
    assert set(SALE_COLUMNS) <= set(ames.columns)


def test_sale_schema_covers_model_inputs() -> None:
    model_inputs = {column.name for column in INPUT_COLUMNS}

    assert model_inputs <= set(SALE_COLUMNS)
    assert set(SALE_COLUMNS) - model_inputs == {TARGET_COLUMN, "Mo_Sold"}


def test_load_ames_restores_none_category(ames: pd.DataFrame) -> None:
    assert ames["Mas_Vnr_Type"].isna().sum() == 0
    assert ames["Misc_Feature"].isna().sum() == 0
    assert (ames["Mas_Vnr_Type"] == "None").sum() == 1775
    assert (ames["Misc_Feature"] == "None").sum() == 2824
    assert int(ames.isna().sum().sum()) == 0


def test_load_ames_adds_sale_month(ames: pd.DataFrame) -> None:
    months = ames[SALE_MONTH_COLUMN]
    assert months.str.fullmatch(r"\d{4}-\d{2}").all()
    assert (months.str[:4].astype(int) == ames["Year_Sold"]).all()
    assert (months.str[5:].astype(int) == ames["Mo_Sold"]).all()
    assert sorted(months.unique()) == MONTHS


def test_add_sale_month_rejects_invalid_month(ames: pd.DataFrame) -> None:
    sales = ames.head(3).copy()
    sales.loc[sales.index[1], "Mo_Sold"] = 13

    with pytest.raises(ValueError, match=r"Mo_Sold outside 1\.\.12, first at row 1") as caught:
        add_sale_month(sales)
    assert "Mo_Sold=13" in str(caught.value)


def test_monthly_batches_cover_every_month(ames: pd.DataFrame, tmp_path: Path) -> None:
    paths = write_monthly_batches(ames, tmp_path)

    assert len(paths) == 2 * len(MONTHS)
    assert sorted({path.stem for path in paths}) == MONTHS
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(p.name for p in paths)
    csv_rows = sum(len(read_batch(path, name=path.name)) for path in paths if path.suffix == ".csv")
    assert csv_rows == AMES_ROWS


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_monthly_batch_round_trips(ames: pd.DataFrame, tmp_path: Path, fmt: str) -> None:
    write_monthly_batches(ames, tmp_path, formats=(fmt,))
    expected = ames[ames[SALE_MONTH_COLUMN] == "2008-06"].drop(columns=SALE_MONTH_COLUMN)

    batch = read_batch(tmp_path / f"2008-06.{fmt}", name=f"batches/2008-06.{fmt}")

    assert len(batch) == 108
    pd.testing.assert_frame_equal(batch, expected.reset_index(drop=True))
    assert (batch["Mas_Vnr_Type"] == "None").any()
    assert (batch["Sale_Type"] == "WD ").any()


def test_monthly_batches_rerun_keeps_files(ames: pd.DataFrame, tmp_path: Path) -> None:
    first = write_monthly_batches(ames, tmp_path)
    contents = {path: path.read_bytes() for path in first}

    second = write_monthly_batches(ames, tmp_path)

    assert second == first
    assert {path: path.read_bytes() for path in second} == contents


def test_monthly_batches_never_overwrite(ames: pd.DataFrame, tmp_path: Path) -> None:
    write_monthly_batches(ames, tmp_path, formats=("csv",))
    target = tmp_path / "2007-03.csv"
    before = target.read_bytes()
    changed = ames.copy()
    changed.loc[changed[SALE_MONTH_COLUMN] == "2007-03", "Sale_Price"] += 1

    with pytest.raises(BatchExistsError) as caught:
        write_monthly_batches(changed, tmp_path, formats=("csv",))

    assert caught.value.path == target
    assert str(target) in str(caught.value)
    assert target.read_bytes() == before


def test_monthly_batches_reject_unknown_format(ames: pd.DataFrame, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unsupported batch formats \\['xlsx'\\]"):
        write_monthly_batches(ames, tmp_path, formats=("csv", "xlsx"))
    assert list(tmp_path.iterdir()) == []


def test_read_batch_accepts_bytes(sample_csv: bytes) -> None:
    batch = read_batch(sample_csv, name="batches/sample.CSV")

    assert len(batch) == 332
    assert batch["Mas_Vnr_Type"].isna().sum() == 0


def test_read_batch_keeps_none_reads_na_as_missing(sample_csv: bytes) -> None:
    text = sample_csv.decode()
    header, first, rest = text.split("\n", 2)
    columns = header.split(",")
    cells = first.split(",")
    cells[columns.index("Sale_Price")] = "NA"
    cells[columns.index("Gr_Liv_Area")] = ""
    cells[columns.index("Misc_Feature")] = "None"
    edited = "\n".join([header, ",".join(cells), rest]).encode()

    batch = read_batch(edited, name="edited.csv")

    assert pd.isna(batch.loc[0, "Sale_Price"])
    assert pd.isna(batch.loc[0, "Gr_Liv_Area"])
    assert batch.loc[0, "Misc_Feature"] == "None"


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        (
            "batches/2008-06.txt",
            b"a,b\n1,2\n",
            "it has the extension .txt, but a batch must be a .csv or .parquet",
        ),
        ("batches/2008-06", b"a,b\n1,2\n", "it has no extension"),
        ("batches/2008-06.csv", b"", "the file is empty (0 bytes)"),
        ("batches/2008-06.csv", b"\n\n", "it could not be parsed as CSV"),
        ("batches/2008-06.csv", b"\xff\xfe\x00garbage\x00\n", "it could not be parsed as CSV"),
        ("batches/2008-06.parquet", b"not a parquet file", "it could not be parsed as PARQUET"),
    ],
)
def test_read_batch_rejects_bad_file(name: str, content: bytes, problem: str) -> None:
    with pytest.raises(BatchFormatError) as caught:
        read_batch(content, name=name)

    assert caught.value.name == name
    assert caught.value.reason.startswith(f"batch {name} is invalid: ")
    assert problem in caught.value.reason


def test_read_batch_rejects_header_only(sample_csv: bytes) -> None:
    header = sample_csv.split(b"\n", 1)[0] + b"\n"

    with pytest.raises(BatchFormatError, match="it contains no rows"):
        read_batch(header, name="batches/2009-01.csv")


def test_read_batch_rejects_unreadable_path(tmp_path: Path) -> None:
    missing = tmp_path / "absent.csv"

    with pytest.raises(BatchFormatError) as caught:
        read_batch(missing, name="batches/absent.csv")

    assert "the file could not be read" in caught.value.reason
    assert str(missing) in caught.value.reason


def test_read_batch_names_missing_columns() -> None:
    batch = pd.read_csv(SAMPLE_PATH, keep_default_na=False)
    without = batch.drop(columns=["Sale_Price", "Latitude"])

    with pytest.raises(BatchFormatError) as caught:
        read_batch(snapshot_bytes(without), name="batches/2010-01.csv")

    assert caught.value.reason == (
        "batch batches/2010-01.csv is invalid: required columns are missing: Latitude, Sale_Price"
    )


def test_read_batch_parquet_named_csv(ames: pd.DataFrame, tmp_path: Path) -> None:
    write_monthly_batches(ames.head(40), tmp_path, formats=("parquet",))
    parquet = next(tmp_path.iterdir()).read_bytes()

    with pytest.raises(BatchFormatError, match="could not be parsed as CSV"):
        read_batch(parquet, name="batches/mislabelled.csv")


def test_sample_rows_are_real_sales(ames: pd.DataFrame) -> None:
    sample = read_batch(SAMPLE_PATH, name=SAMPLE_PATH.name)
    columns = list(sample.columns)

    matched = sample.merge(ames[columns].drop_duplicates(), on=columns, how="inner")

    assert len(sample) == 332
    assert len(matched) == len(sample)
    assert sorted(add_sale_month(sample)[SALE_MONTH_COLUMN].unique()) == MONTHS


def test_dataset_version_is_file_md5(tmp_path: Path) -> None:
    path = tmp_path / "abc.csv"
    path.write_bytes(b"abc")

    assert dataset_version(path) == "900150983cd24fb0d6963f7d28e17f72"
    assert dataset_version(str(path)) == hashlib.md5(b"abc").hexdigest()


def test_dataset_version_frame_matches_snapshot(ames: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "train.csv"

    written = write_snapshot(ames, path)

    assert written == dataset_version(path)
    assert dataset_version(ames) == written
    assert b"\r\n" not in path.read_bytes()
    assert re.fullmatch(r"[0-9a-f]{32}", written)


def test_dataset_version_changes_with_one_value(ames: pd.DataFrame) -> None:
    changed = ames.copy()
    changed.loc[changed.index[-1], "Sale_Price"] += 1

    assert dataset_version(changed) != dataset_version(ames)


def test_dataset_version_rejects_directory(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="is a directory"):
        dataset_version(tmp_path)
