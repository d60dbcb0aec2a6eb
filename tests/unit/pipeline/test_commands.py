"""`mhpe data fetch` writes the real monthly batches."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from mhpe.commands import data
from mhpe.data import read_batch


def test_fetch_writes_monthly_csv(tmp_path: Path) -> None:
    result = CliRunner().invoke(data, ["fetch", "--out", str(tmp_path), "--format", "csv"])

    files = sorted(tmp_path.glob("*.csv"))
    assert result.exit_code == 0, result.output
    assert len(files) == 55
    assert files[0].name == "2006-01.csv"
    assert files[-1].name == "2010-07.csv"
    assert sum(len(read_batch(path, name=path.name)) for path in files) == 2930


def test_fetch_twice_keeps_files(tmp_path: Path) -> None:
    runner = CliRunner()
    runner.invoke(data, ["fetch", "--out", str(tmp_path), "--format", "parquet"])

    again = runner.invoke(data, ["fetch", "--out", str(tmp_path), "--format", "parquet"])

    assert again.exit_code == 0, again.output
    assert len(list(tmp_path.glob("*.parquet"))) == 55


def _batches(tmp_path: Path, *months: str) -> Path:
    folder = tmp_path / "batches"
    folder.mkdir()
    CliRunner().invoke(data, ["fetch", "--out", str(folder), "--format", "csv"])
    for path in folder.glob("*.csv"):
        if path.stem not in months:
            path.unlink()
    return folder


def test_validate_reports_empty_batch(tmp_path: Path) -> None:
    folder = _batches(tmp_path, "2008-06")
    (folder / "empty.csv").write_bytes(b"")

    result = CliRunner().invoke(data, ["validate", "--batches", str(folder)])

    assert result.exit_code == 1
    assert "batch empty.csv is invalid: the file is empty" in result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_validate_rejects_invalid_month(tmp_path: Path) -> None:
    folder = _batches(tmp_path, "2008-06")

    result = CliRunner().invoke(data, ["validate", "--batches", str(folder), "--until", "2009-13"])

    assert result.exit_code == 2
    assert "'2009-13' is not a month: it must be YYYY-MM with MM 01 to 12" in result.output


def test_validate_names_missing_batches(tmp_path: Path) -> None:
    folder = _batches(tmp_path, "2008-06")
    empty = tmp_path / "none"
    empty.mkdir()

    too_early = CliRunner().invoke(
        data, ["validate", "--batches", str(folder), "--until", "2005-01"]
    )
    no_files = CliRunner().invoke(data, ["validate", "--batches", str(empty)])

    assert too_early.exit_code == 1
    assert "no CSV batch" in too_early.output
    assert "the first batch is 2008-06.csv" in too_early.output
    assert no_files.exit_code == 1
    assert f"no CSV batch in {empty}" in no_files.output
    assert "quality gate" not in too_early.output + no_files.output


def test_train_rejects_unknown_strategy(tmp_path: Path) -> None:
    sales = tmp_path / "sales.csv"
    sales.write_text("a,b\n1,2\n")

    result = CliRunner().invoke(data, ["train", "--sales", str(sales), "--strategy", "xgboost"])

    assert result.exit_code == 1
    assert "--strategy 'xgboost' is unknown; it must be one of" in result.output
    assert "ridge" in result.output
    assert "Traceback" not in result.output


def test_train_rejects_unreadable_sales(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.csv"
    garbage.write_bytes(b'a,b\n"1,2\n\x00\xff')

    result = CliRunner().invoke(data, ["train", "--sales", str(garbage)])

    assert result.exit_code == 1
    assert f"sales file {garbage}:" in result.output
    assert "mhpe data validate" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
