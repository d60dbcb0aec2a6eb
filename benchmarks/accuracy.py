"""Accuracy of every strategy on a fixed time split of the Ames sales.

Training uses the sales up to July 2009 and the test set is August 2009 to July 2010, the
last 12 months of the data. Each strategy runs the production path, `mhpe.training.train`
with config/model.yaml: grid search by time-ordered CV on the training months only, refit,
ONNX export, parity check, and metrics from the ONNX model's prices on the test months.

    .venv/bin/python benchmarks/accuracy.py [--strategies ridge blend] [--output PATH]

Writes a Markdown section (default benchmarks/results/accuracy.md).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import logging
import os
import platform
from pathlib import Path

import numpy as np
import pandas as pd
from mhpe.data import load_ames
from mhpe.strategies import STRATEGIES
from mhpe.training import ModelConfig, TrainingResult, load_model_config, train

logger = logging.getLogger("benchmarks.accuracy")

TEST_MONTHS = ("2009-08", "2010-07")
AIM_RMSE_LOG = 0.13
AIM_MAPE_PCT = 9.0
DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results" / "accuracy.md"
LARGEST_ERRORS = 10
STRATEGY_ORDER = ("ridge", "random_forest", "hist_gradient_boosting", "mlp", "blend")
VERSIONED_PACKAGES = (
    "numpy",
    "pandas",
    "scikit-learn",
    "torch",
    "skl2onnx",
    "onnx",
    "onnxruntime",
)


def cpu_model() -> str:
    """Return the CPU model name from /proc/cpuinfo, or platform.processor() elsewhere."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def machine_description() -> str:
    """Describe CPUs, OS, Python and package versions, and the 1-minute load average."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = f"{os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else "unknown"
    versions = ", ".join(
        f"{package} {importlib.metadata.version(package)}" for package in VERSIONED_PACKAGES
    )
    return (
        f"{cpus} CPUs available to the process (nproc), {cpu_model()}; "
        f"{platform.system()} {platform.release()}; Python {platform.python_version()}; "
        f"{versions}. Load average (1 min) when the report was written: {load}; training "
        "seconds are wall-clock time and grow when other jobs share the CPUs"
    )


def _row(name: str, metrics: dict[str, float], extra: str) -> str:
    return (
        f"| {name} | {metrics['rmse_log']:.4f} | {metrics['rmse_usd']:,.0f} | "
        f"{metrics['mae_usd']:,.0f} | {metrics['mape_pct']:.2f} | {metrics['r2']:.3f} | {extra} |"
    )


def error_breakdown(result: TrainingResult, sales: pd.DataFrame) -> list[str]:
    """Describe where the holdout's squared log error comes from, as Markdown lines."""
    predictions = result.holdout_predictions
    log_error = np.log(predictions["predicted_price_usd"]) - np.log(predictions["actual_price_usd"])
    squared = log_error**2
    conditions = sales.loc[predictions.index, "Sale_Condition"]
    largest = squared.nlargest(LARGEST_ERRORS)
    without_largest = float(np.sqrt(squared.drop(largest.index).mean()))
    lines = [
        (
            f"Where the best model's holdout error comes from: its {LARGEST_ERRORS} largest "
            f"errors of {len(squared)} sales hold {largest.sum() / squared.sum():.0%} of the "
            f"squared log error, and without them the RMSE log is {without_largest:.4f}. "
            "By sale condition:"
        ),
        "",
        "| sale condition | sales | RMSE log | mean of log(predicted / actual) |",
        "| --- | ---: | ---: | ---: |",
    ]
    for condition, errors in log_error.groupby(conditions.to_numpy()):
        lines.append(
            f"| {condition} | {len(errors)} | {float(np.sqrt((errors**2).mean())):.4f} | "
            f"{float(errors.mean()):+.4f} |"
        )
    return lines


def render(results: dict[str, TrainingResult], config: ModelConfig, sales: pd.DataFrame) -> str:
    """Render the results as a Markdown section."""
    first = next(iter(results.values()))
    best_name = min(results, key=lambda name: results[name].metrics["rmse_log"])
    best = results[best_name].metrics
    aim_met = best["rmse_log"] <= AIM_RMSE_LOG and best["mape_pct"] < AIM_MAPE_PCT

    lines = [
        "## Accuracy on a time-based holdout (Ames)",
        "",
        (
            f"Training sales {first.training_months[0]} to {first.training_months[1]} "
            f"({first.training_rows} sales after dropping {first.dropped_training_rows} above "
            f"{config.max_living_area_sqft:,.0f} sqft); test sales {first.holdout_months[0]} to "
            f"{first.holdout_months[1]} ({len(first.holdout_predictions)} sales, none dropped). "
            "Each strategy ran `mhpe.training.train` with config/model.yaml: grid search by "
            f"{config.cv_folds}-fold CV split by sale month inside the training months, refit on "
            "all training sales, ONNX export, parity check, then metrics from the ONNX model's "
            "prices. The baseline predicts the median training price of the sale's "
            "neighbourhood. RMSE and MAE are in US dollars; MAPE in percent; R² on dollars."
        ),
        "",
        (
            "| model | RMSE log | RMSE $ | MAE $ | MAPE % | R² | CV RMSE log, train s, "
            "ONNX KiB, parity |"
        ),
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for name, result in results.items():
        extra = (
            f"{result.cv_results[0].mean_rmse_log:.4f}, {result.train_seconds:.0f} s, "
            f"{len(result.onnx_bytes) / 1024:,.0f} KiB, {result.parity.max_relative_difference:.1e}"
        )
        lines.append(_row(name, result.metrics, extra))
    lines.append(_row("baseline (neighbourhood median)", first.baseline_metrics, "-"))

    lines += [
        "",
        (
            f"Aim for the best strategy: RMSE of log price <= {AIM_RMSE_LOG} and MAPE < "
            f"{AIM_MAPE_PCT:g} %. Best here: {best_name}, RMSE log {best['rmse_log']:.4f}, "
            f"MAPE {best['mape_pct']:.2f} %: aim {'met' if aim_met else 'missed'}."
        ),
        "",
        *error_breakdown(results[best_name], sales),
        "",
        "Parameters chosen by the CV:",
        "",
    ]
    for name, result in results.items():
        lines.append(f"- {name}: `{result.params}`")
    lines += ["", f"Machine: {machine_description()}.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--strategies",
        nargs="+",
        default=list(STRATEGY_ORDER),
        choices=sorted(STRATEGIES),
        help="strategies to train and evaluate (default: all)",
    )
    parser.add_argument(
        "--output", type=Path, default=DEFAULT_OUTPUT, help="Markdown file to write"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    sales = load_ames()
    config = load_model_config()
    results: dict[str, TrainingResult] = {}
    for name in args.strategies:
        result = train(sales, config, name)
        if result.holdout_months != TEST_MONTHS:
            raise RuntimeError(
                f"holdout covers {result.holdout_months}, not the fixed test months "
                f"{TEST_MONTHS}; set holdout_months to 12 in config/model.yaml"
            )
        results[name] = result

    report = render(results, config, sales)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(report)
    print(report)


if __name__ == "__main__":
    main()
