"""`mhpe data fetch` reproduces the batches that data/batches.dvc records."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq
from click.testing import CliRunner
from mhpe.commands import data

from .conftest import DVC_EXECUTABLE, REPOSITORY, Workspace, check, file_md5s, run


def test_fetch_matches_committed_dvc_file(make_workspace: Callable[[str], Workspace]) -> None:
    workspace = make_workspace("fetched")
    workspace.fetch()

    result = check(workspace.dvc("data", "status", "--json", "data/batches"))
    data_status = json.loads(result.stdout)

    # "uncommitted" would list data/batches/ if its md5 differed from data/batches.dvc's.
    assert "uncommitted" not in data_status
    assert data_status.get("not_in_cache") == ["data/batches/"]


def test_status_clean_after_fetch_and_commit(make_workspace: Callable[[str], Workspace]) -> None:
    workspace = make_workspace("committed")
    recorded = (workspace.root / "data" / "batches.dvc").read_bytes()
    workspace.fetch()

    # Without --force, dvc commit fails rather than record a different md5.
    check(workspace.dvc("commit", "data/batches.dvc"))

    assert workspace.status("data/batches.dvc") == {}
    assert (workspace.root / "data" / "batches.dvc").read_bytes() == recorded


def test_batches_dvc_records_both_formats() -> None:
    record = (REPOSITORY / "data" / "batches.dvc").read_text()

    assert "nfiles: 110" in record
    assert "path: batches" in record


def test_fetch_twice_gives_identical_bytes(tmp_path: Path) -> None:
    runner = CliRunner()
    first = runner.invoke(data, ["fetch", "--out", str(tmp_path / "first")])
    second = runner.invoke(data, ["fetch", "--out", str(tmp_path / "second")])

    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    assert file_md5s(tmp_path / "first") == file_md5s(tmp_path / "second")


def test_parquet_batch_has_no_schema_metadata(tmp_path: Path) -> None:
    result = CliRunner().invoke(data, ["fetch", "--out", str(tmp_path), "--format", "parquet"])
    content = (tmp_path / "2008-06.parquet").read_bytes()

    metadata = pq.ParquetFile(io.BytesIO(content)).metadata

    assert result.exit_code == 0, result.output
    assert metadata.metadata is None
    assert metadata.num_rows == 108


def test_repository_dvc_sees_batches_file() -> None:
    """DVC in the checkout itself finds data/batches.dvc, so a plain `dvc push` sends it.

    A .gitignore pattern that ignores data/ as a whole made DVC skip the folder: `dvc push`
    then printed "Everything is up to date" and uploaded none of the batches.
    """
    listing = check(run([str(DVC_EXECUTABLE), "stage", "list", "--all"], cwd=REPOSITORY))

    stages = [line.split()[0] for line in listing.stdout.splitlines() if line.strip()]
    assert "data/batches.dvc" in stages
