"""dvc.yaml's stages run .venv's `mhpe data validate` and `mhpe data train` under `dvc repro`."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

from .conftest import Workspace, check

# Ridge trains in seconds. The pipeline's default strategy (blend) made `make repro` take
# 3 min 11 s on 2 cores that other jobs shared, too long for a test.
FAST_STRATEGY = "ridge"


def test_dag_runs_validate_before_train(make_workspace: Callable[[str], Workspace]) -> None:
    workspace = make_workspace("dag")

    dag = check(workspace.dvc("dag", "--dot")).stdout

    assert '"data/batches.dvc" -> "validate"' in dag
    assert '"validate" -> "train"' in dag


def test_repro_runs_both_stages(make_workspace: Callable[[str], Workspace]) -> None:
    workspace = make_workspace("repro")
    settings = workspace.root / "config" / "pipeline.yaml"
    text = settings.read_text()
    assert "\nstrategy: null\n" in text, "config/pipeline.yaml no longer sets strategy: null"
    settings.write_text(text.replace("\nstrategy: null\n", f"\nstrategy: {FAST_STRATEGY}\n"))
    workspace.fetch()

    result = check(workspace.dvc("repro"))

    sales = workspace.root / "data" / "curated" / "sales.csv"
    metrics = json.loads((workspace.root / "data" / "model" / "metrics.json").read_text())
    assert "Running stage 'validate'" in result.stdout
    assert "Running stage 'train'" in result.stdout
    assert f"trained {FAST_STRATEGY}" in result.stdout
    assert (workspace.root / "data" / "model" / "model.onnx").stat().st_size > 0
    assert metrics["dataset_version"] == hashlib.md5(sales.read_bytes()).hexdigest()
    assert workspace.status("validate", "train") == {}
