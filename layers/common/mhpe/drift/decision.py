"""The drift decision: each check against its threshold, and the reason that names the drift."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from mhpe.drift.concept import ChampionError, PricePerSqftShift
from mhpe.drift.data_drift import DataDriftResult
from mhpe.drift.settings import DriftSettings

CheckStatus = Literal["drift", "no drift", "not evaluated"]

REQUESTS_DATASET = "recent requests"
LABELLED_DATASET = "recent labelled batches"


@dataclass(frozen=True)
class CheckOutcome:
    """One drift check: its measured value, its threshold and a sentence for people."""

    name: str
    status: CheckStatus
    value: float | None
    threshold: float
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "value": self.value,
            "threshold": self.threshold,
            "message": self.message,
        }


@dataclass(frozen=True)
class DriftDecision:
    """Whether drift was detected, and every check behind the decision."""

    checks: tuple[CheckOutcome, ...]

    @property
    def drifted(self) -> bool:
        return any(check.status == "drift" for check in self.checks)

    @property
    def reason(self) -> str:
        """Return one line naming every check that found drift, for the retraining's reason."""
        found = [check.message for check in self.checks if check.status == "drift"]
        if not found:
            return "no drift"
        return "drift: " + "; ".join(found)

    def to_dict(self) -> dict[str, Any]:
        return {
            "drifted": self.drifted,
            "reason": self.reason,
            "checks": [check.to_dict() for check in self.checks],
        }


def data_drift_check(
    name: str, result: DataDriftResult | None, rows: int, minimum_rows: int, threshold: float
) -> CheckOutcome:
    """Judge a data drift result: drift when its drift share is above `threshold`."""
    if result is None:
        return CheckOutcome(
            name,
            "not evaluated",
            None,
            threshold,
            f"data drift in {name} not evaluated: {rows} rows, fewer than the {minimum_rows} needed",
        )
    drifted = len(result.drifted_columns)
    share = result.drift_share
    status: CheckStatus = "drift" if share > threshold else "no drift"
    relation = "above" if status == "drift" else "not above"
    message = (
        f"data drift in {name}: {drifted} of {len(result.columns)} columns drifted "
        f"({100 * share:.1f} %), {relation} the {100 * threshold:.0f} % threshold"
    )
    return CheckOutcome(name, status, share, threshold, message)


def price_per_sqft_check(
    shift: PricePerSqftShift | None, rows: int, minimum_rows: int, threshold: float
) -> CheckOutcome:
    """Judge the price per square foot: drift when it moved by more than `threshold` either way."""
    name = "price per sqft"
    if shift is None:
        return CheckOutcome(
            name,
            "not evaluated",
            None,
            threshold,
            f"price per sqft not evaluated: {rows} recent labelled sales, fewer than the "
            f"{minimum_rows} needed",
        )
    status: CheckStatus = "drift" if abs(shift.shift) > threshold else "no drift"
    relation = "more than" if status == "drift" else "within"
    message = (
        f"median price per sqft moved {100 * shift.shift:+.1f} % "
        f"(${shift.reference_median_usd:,.2f} to ${shift.current_median_usd:,.2f}), "
        f"{relation} the {100 * threshold:.0f} % threshold"
    )
    return CheckOutcome(name, status, shift.shift, threshold, message)


def champion_error_check(
    error: ChampionError | None, rows: int, minimum_rows: int, threshold: float
) -> CheckOutcome:
    """Judge the champion's error: drift when recent error / holdout error exceeds `threshold`."""
    name = "champion error"
    if error is None:
        return CheckOutcome(
            name,
            "not evaluated",
            None,
            threshold,
            f"champion error not evaluated: {rows} recent labelled sales, fewer than the "
            f"{minimum_rows} needed",
        )
    status: CheckStatus = "drift" if error.ratio > threshold else "no drift"
    relation = "above" if status == "drift" else "not above"
    message = (
        f"champion {error.metric} {error.recent_value:,.4f} on {error.recent_rows} recent sales "
        f"is {error.ratio:.2f} times its holdout {error.holdout_value:,.4f}, {relation} the "
        f"{threshold:g} times threshold"
    )
    return CheckOutcome(name, status, error.ratio, threshold, message)


def decide(
    settings: DriftSettings,
    *,
    requests: DataDriftResult | None,
    request_rows: int,
    labelled: DataDriftResult | None,
    labelled_rows: int,
    price_shift: PricePerSqftShift | None,
    error: ChampionError | None,
) -> DriftDecision:
    """Combine the four checks; a None result means the check had too few rows to run."""
    return DriftDecision(
        (
            data_drift_check(
                REQUESTS_DATASET,
                requests,
                request_rows,
                settings.min_data_drift_rows,
                settings.data_drift_share,
            ),
            data_drift_check(
                LABELLED_DATASET,
                labelled,
                labelled_rows,
                settings.min_data_drift_rows,
                settings.data_drift_share,
            ),
            price_per_sqft_check(
                price_shift,
                labelled_rows,
                settings.min_labelled_rows,
                settings.price_per_sqft_shift,
            ),
            champion_error_check(
                error, labelled_rows, settings.min_labelled_rows, settings.error_ratio
            ),
        )
    )
