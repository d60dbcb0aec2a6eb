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
