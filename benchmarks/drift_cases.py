"""Measure drift on the real cases, the tests' calibration, and the time a check takes.

Cases, each decided with config/drift.yaml as the drift function decides (data drift on at
most max_rows rows per side):
- time: Ames sales of 2006-2007 (the reference, a champion's training data) against those of
  2009-2010 as recent labelled batches (data drift, price per sqft, champion error);
- place: the 1,725 mapped Saratoga sales as recent requests against Ames 2006-2007 (and, for
  information, their prices against the champion);
- Ames replay: random Ames houses of 2006-2010 as recent requests against Ames 2006-2007.
The champion is a ridge model trained on 2006-2007 with config/model.yaml (holdout: the last
12 months, 2007). Calibration: each Ames 3-month window against all earlier sales, and random
Ames houses against shorter references, with Evidently's own choice of tests, with KS and
chi-squared, and with the configured tests. Timing: a whole data drift
check (Evidently and its HTML) and the concept checks, on 10,000 reference and 10,000 current
rows of Ames resampled with replacement. Each time is the median of several repeats.

Usage: .venv/bin/python benchmarks/drift_cases.py [--replay-rows 150 1000] [--repeats 3]
Writes its section of benchmarks/results/drift.md.
"""

from __future__ import annotations

import argparse
import datetime
import logging
import statistics
import time
import warnings
from typing import Any

import pandas as pd
from mhpe.data import load_ames
from mhpe.drift.concept import champion_error, price_per_sqft_shift
from mhpe.drift.data_drift import DataDriftResult, at_most_rows, detect_data_drift
from mhpe.drift.decision import decide
from mhpe.drift.settings import DriftSettings, load_drift_settings
from mhpe.markets import load_saratoga
from mhpe.pipeline.settings import model_config_path
from mhpe.training import load_model_config, train

from benchmarks.drift_support import machine_line, write_section

TIMING_ROWS = 10_000
STRATEGY = "ridge"


CHI_SQUARED = ("ks", "chisquare")
EVIDENTLY_CHOICE = (None, None)


def data_drift(
    settings: DriftSettings,
    reference: pd.DataFrame,
    current: pd.DataFrame,
    dataset: str,
    *,
    methods: tuple[str | None, str | None] | None = None,
    capped: bool = True,
) -> DataDriftResult:
    """Run the data drift check as the drift function does: capped at max_rows per side.

    `methods` replaces the configured (numeric, categorical) tests; (None, None) is
    Evidently's own choice.
    """
    numeric, categorical = methods or (settings.numeric_method, settings.categorical_method)
    rows = settings.max_rows if capped else max(len(reference), len(current))
    return detect_data_drift(
        at_most_rows(reference, rows),
        at_most_rows(current, rows),
        numeric_columns=settings.numeric_columns,
        categorical_columns=settings.categorical_columns,
        drift_share=settings.data_drift_share,
        dataset=dataset,
        numeric_method=numeric,
        categorical_method=categorical,
    )


def cases(settings: DriftSettings, replay_rows: list[int]) -> list[dict[str, Any]]:
    ames = load_ames()
    reference = ames[ames["Year_Sold"] <= 2007].reset_index(drop=True)
    after_crash = ames[ames["Year_Sold"] >= 2009].reset_index(drop=True)
    saratoga = load_saratoga().sales
    result = train(reference, load_model_config(model_config_path()), STRATEGY)

    def concept(current: pd.DataFrame) -> tuple[Any, Any]:
        shift = price_per_sqft_shift(reference, current)
        error = champion_error(
            result.onnx_bytes,
            current,
            metric=settings.error_metric,
            holdout_metrics=result.metrics,
        )
        return shift, error

    rows = []
    labelled = data_drift(settings, reference, after_crash, "recent labelled batches")
    shift, error = concept(after_crash)
    decision = decide(
        settings,
        requests=None,
        request_rows=0,
        labelled=labelled,
        labelled_rows=len(after_crash),
        price_shift=shift,
        error=error,
    )
    rows.append(_row("time: Ames 2009-2010 as labelled batches", labelled, shift, error, decision))

    requests = data_drift(settings, reference, saratoga, "recent requests")
    shift, error = concept(saratoga)
    rows.append(
        _row(
            "place: Saratoga as requests",
            requests,
            shift,
            error,
            _request_decision(settings, requests),
        )
    )

    for count in replay_rows:
        replay = ames.sample(n=count, random_state=1)
        requests = data_drift(settings, reference, replay, "recent requests")
        case = f"Ames replay: {count:,} houses as requests"
        rows.append(_row(case, requests, None, None, _request_decision(settings, requests)))
    return rows


def _request_decision(settings: DriftSettings, requests: DataDriftResult) -> Any:
    return decide(
        settings,
        requests=requests,
        request_rows=requests.current_rows,
        labelled=None,
        labelled_rows=0,
        price_shift=None,
        error=None,
    )


def _row(
    case: str, drift: DataDriftResult, shift: Any, error: Any, decision: Any
) -> dict[str, Any]:
    error_text = "n/a (no labels)"
    if error is not None:
        error_text = f"{error.ratio:.2f} ({error.recent_value:.3f} / {error.holdout_value:.3f})"
    drifted = ", ".join(drift.drifted_columns[:12])
    if len(drift.drifted_columns) > 12:
        drifted += " ..."
    return {
        "case": case,
        "rows": f"{drift.reference_rows:,} / {drift.current_rows:,}",
        "drift_share": (
            f"{100 * drift.drift_share:.1f} % ({len(drift.drifted_columns)} of "
            f"{len(drift.columns)})"
        ),
        "shift": f"{100 * shift.shift:+.1f} %" if shift else "n/a (no labels)",
        "error": error_text,
        "decision": "retrain" if decision.drifted else "no retraining",
        "reason": decision.reason,
        "drifted": drifted,
    }


def _shares(
    settings: DriftSettings, reference: pd.DataFrame, current: pd.DataFrame
) -> tuple[float, float, float]:
    """Return the drift share with Evidently's choice, with KS and chi-squared, configured."""
    return (
        data_drift(
            settings, reference, current, "calibration", methods=EVIDENTLY_CHOICE
        ).drift_share,
        data_drift(settings, reference, current, "calibration", methods=CHI_SQUARED).drift_share,
        data_drift(settings, reference, current, "calibration").drift_share,
    )


def window_calibration(settings: DriftSettings) -> list[tuple[str, int, int, tuple]]:
    ames = load_ames()
    months = sorted(ames["sale_month"].unique())
    rows = []
    for index in range(18, len(months) - 3, 4):
        reference = ames[ames["sale_month"] <= months[index]]
        current = ames[
            (ames["sale_month"] > months[index]) & (ames["sale_month"] <= months[index + 3])
        ]
        rows.append(
            (months[index], len(reference), len(current), _shares(settings, reference, current))
        )
    return rows


def sample_calibration(settings: DriftSettings) -> list[tuple[str, int, int, tuple]]:
    ames = load_ames()
    references = {
        "2006-01 to 2007-12": ames[ames["Year_Sold"] <= 2007],
        "2008-01 to 2008-06": ames[ames["sale_month"].between("2008-01", "2008-06")],
        "2008-01 to 2008-08": ames[ames["sale_month"].between("2008-01", "2008-08")],
    }
    rows = []
    for name, reference in references.items():
        for count in (150, 1000):
            current = ames.sample(n=count, random_state=1)
            rows.append((name, len(reference), count, _shares(settings, reference, current)))
    return rows


def timing(settings: DriftSettings, repeats: int) -> list[tuple[str, float]]:
    ames = load_ames()
    reference = ames.sample(n=TIMING_ROWS, replace=True, random_state=0).reset_index(drop=True)
    later = ames[ames["Year_Sold"] >= 2009]
    current = later.sample(n=TIMING_ROWS, replace=True, random_state=1).reset_index(drop=True)
    model = train(ames[ames["Year_Sold"] <= 2007], load_model_config(model_config_path()), STRATEGY)

    def measure(action: Any) -> float:
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            action()
            times.append(time.perf_counter() - started)
        return statistics.median(times)

    def drift(methods: Any = None, capped: bool = False) -> Any:
        return lambda: data_drift(
            settings, reference, current, "timing", methods=methods, capped=capped
        )

    configured = f"{settings.numeric_method}, {settings.categorical_method}"
    return [
        (f"data drift on all rows, configured tests ({configured}), with HTML", measure(drift())),
        ("data drift on all rows, KS and chi-squared, with HTML", measure(drift(CHI_SQUARED))),
        (
            "data drift on all rows, Evidently's own choice of tests, with HTML",
            measure(drift(EVIDENTLY_CHOICE)),
        ),
        (
            f"data drift as the function runs it (at most {settings.max_rows:,} rows per side)",
            measure(drift(capped=True)),
        ),
        ("price per sqft shift", measure(lambda: price_per_sqft_shift(reference, current))),
        (
            "champion error (onnxruntime scoring)",
            measure(
                lambda: champion_error(
                    model.onnx_bytes,
                    current,
                    metric=settings.error_metric,
                    holdout_metrics=model.metrics,
                )
            ),
        ),
    ]


def _percent(value: float) -> str:
    return f"{100 * value:.1f} %"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replay-rows", type=int, nargs="+", default=[150, 1000])
    parser.add_argument("--repeats", type=int, default=3)
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    warnings.simplefilter("ignore")
    settings = load_drift_settings()
    machine = machine_line()

    case_rows = cases(settings, arguments.replay_rows)
    windows = window_calibration(settings)
    samples = sample_calibration(settings)
    timing_rows = timing(settings, arguments.repeats)

    replay_text = " ".join(str(count) for count in arguments.replay_rows)
    lines = [
        "### Real drift cases",
        "",
        (
            f"Measured {datetime.date.today()} with `benchmarks/drift_cases.py --replay-rows "
            f"{replay_text} --repeats {arguments.repeats}` on {machine}."
        ),
        "",
        (
            "Reference: the Ames sales of 2006-2007, as a champion trained on them would record; "
            f"the champion is {STRATEGY} with config/model.yaml, its holdout the 12 months of "
            "2007. Thresholds of config/drift.yaml: data drift above "
            f"{100 * settings.data_drift_share:.0f} % of {len(settings.numeric_columns)} numeric "
            f"and {len(settings.categorical_columns)} categorical input columns "
            f"({settings.numeric_method} and {settings.categorical_method}, at most "
            f"{settings.max_rows:,} rows per side, Year_Sold left out), price per sqft beyond "
            f"±{100 * settings.price_per_sqft_shift:.0f} %, champion {settings.error_metric} "
            f"above {settings.error_ratio:g} times its holdout value."
        ),
        "",
        (
            "| case | rows compared (reference / current) | data drift share | "
            "price per sqft shift | champion error ratio (recent / holdout) | decision |"
        ),
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for row in case_rows:
        lines.append(
            f"| {row['case']} | {row['rows']} | {row['drift_share']} | {row['shift']} | "
            f"{row['error']} | {row['decision']} |"
        )
    lines += ["", "Reasons and drifted columns, as the drift function words them:", ""]
    for row in case_rows:
        lines.append(f"- {row['case']}: {row['reason']}. Drifted: {row['drifted'] or 'none'}.")
    lines += [
        "",
        (
            "For Saratoga the price per sqft and the champion error are shown for information: in "
            "the product its houses arrive as requests, without prices, so only data drift decides."
        ),
        "",
        "### Calibration of the per-column tests",
        "",
        (
            "Share of drifted columns with Evidently's own choice of tests (for a reference of more "
            "than 1,000 rows: normed Wasserstein and Jensen-Shannon distances, threshold 0.1; "
            "below: KS and chi-squared), with KS and chi-squared everywhere, and with the "
            "configured tests. All runs take at most "
            f"{settings.max_rows:,} rows per side. First, each Ames 3-month window against every "
            "earlier Ames sale (seasons and neighbourhoods differ from window to window). The "
            "drift function runs data drift only on at least "
            f"{settings.min_data_drift_rows} rows, so it skips the smaller windows:"
        ),
        "",
        "| reference up to | reference rows | window rows | Evidently's choice | KS, chi-squared | configured |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for month, reference_rows, window_rows, shares in windows:
        lines.append(
            f"| {month} | {reference_rows:,} | {window_rows:,} | "
            + " | ".join(_percent(share) for share in shares)
            + " |"
        )
    lines += [
        "",
        "Then random Ames houses of 2006-2010, as an Ames replay sends them, against shorter references:",
        "",
        "| reference | reference rows | random houses | Evidently's choice | KS, chi-squared | configured |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, reference_rows, count, shares in samples:
        lines.append(
            f"| {name} | {reference_rows:,} | {count:,} | "
            + " | ".join(_percent(share) for share in shares)
            + " |"
        )
    lines += [
        "",
        f"### Time of a drift check on {TIMING_ROWS:,} rows",
        "",
        (
            f"{TIMING_ROWS:,} reference rows (Ames resampled) against {TIMING_ROWS:,} current "
            "rows (Ames 2009-2010 resampled), "
            f"{len(settings.numeric_columns) + len(settings.categorical_columns)} columns; "
            f"medians of {arguments.repeats} repeats."
        ),
        "",
        "| step | median time |",
        "| --- | ---: |",
    ]
    for step, seconds in timing_rows:
        lines.append(f"| {step} | {seconds:.2f} s |")
    write_section("drift_cases", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
