"""The training ledger: which curated rows trainings cover, for min_new_rows.

The ledger object in the models bucket contains the curated row count of the last completed
training (`trained_rows`) and the claims of trainings still running. Each claim names its
execution and the curated row count it trains on, and it expires CLAIM_TTL_S after it was
made. Every training reads all curated sales, so the rows covered are the maximum of
`trained_rows` and the row counts of the live claims; no row is counted twice.

Many executions reach their train step at once when batches arrive together. Each one reads
the ledger and, when enough new rows have arrived beyond the covered rows, adds its claim
with a conditional write (If-Match on the ETag it read). Of two concurrent claims on the same
rows only one succeeds; the other reads the ledger again and finds too few new rows left. So
a burst of batches starts one training, not one per batch.

A claim ends in one of three ways. A finished training completes it (`complete_training`),
which raises `trained_rows`. A failed training releases it (`release_claim`, from the train
step's error path or the state machine's Catch path), so its rows count as new again. A
training that never reports back (worker killed, local cloud stopped) leaves a claim that
expires, after which its rows count as new again.

NOTE: moto 5.2.5 checks If-Match and If-None-Match without a lock, so on the local cloud two
claims in the same instant can both succeed and train twice. S3 itself checks atomically.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from mhpe.storage import ObjectChangedError, ObjectStore

logger = logging.getLogger(__name__)

LEDGER_KEY = "pipeline/training-ledger.json"
MAX_CLAIM_ATTEMPTS = 5
# The train function's Lambda timeout in template.yaml: no invocation keeps a claim longer.
TRAIN_TIMEOUT_S = 900
# Room for clock differences between hosts and for the state machine's Catch path.
CLAIM_MARGIN_S = 120
CLAIM_TTL_S = TRAIN_TIMEOUT_S + CLAIM_MARGIN_S


@dataclass(frozen=True)
class Claim:
    """A running training's claim on the first `claimed_rows` curated rows."""

    execution_arn: str
    claimed_rows: int
    forced: bool
    claimed_at: datetime
    expires_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "execution_arn": self.execution_arn,
            "claimed_rows": self.claimed_rows,
            "forced": self.forced,
            "claimed_at": self.claimed_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Claim:
        return cls(
            execution_arn=str(data["execution_arn"]),
            claimed_rows=int(data["claimed_rows"]),
            forced=bool(data.get("forced", False)),
            claimed_at=datetime.fromisoformat(data["claimed_at"]),
            expires_at=datetime.fromisoformat(data["expires_at"]),
        )


@dataclass(frozen=True)
class Ledger:
    """The ledger object's content: the last completed training and the open claims."""

    trained_rows: int = 0
    trained_by: str | None = None
    claims: tuple[Claim, ...] = field(default_factory=tuple)

    def live_claims(self, now: datetime, *, excluding: str | None = None) -> tuple[Claim, ...]:
        """Return the claims that have not expired, without those of execution `excluding`."""
        return tuple(
            claim
            for claim in self.claims
            if claim.expires_at > now and claim.execution_arn != excluding
        )

    def covered_rows(self, now: datetime, *, excluding: str | None = None) -> int:
        """Return the curated rows that a completed or a running training covers."""
        running = [claim.claimed_rows for claim in self.live_claims(now, excluding=excluding)]
        return max([self.trained_rows, *running])

    def to_dict(self) -> dict[str, Any]:
        return {
            "trained_rows": self.trained_rows,
            "trained_by": self.trained_by,
            "claims": [claim.to_dict() for claim in self.claims],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Ledger:
        if "claims" in data:
            return cls(
                trained_rows=int(data.get("trained_rows", 0)),
                trained_by=data.get("trained_by"),
                claims=tuple(Claim.from_dict(claim) for claim in data["claims"]),
            )
        return _from_single_claim_ledger(data)


def _from_single_claim_ledger(data: dict[str, Any]) -> Ledger:
    """Read the earlier format, one `claimed_rows` count that stayed after the training ended.

    That format did not say whether its training finished. An unreleased claim is therefore
    read as a running claim that expires CLAIM_TTL_S after it was made, and the rows count as
    new again afterwards, so the next trigger may train once more on rows already trained on.
    """
    rows = int(data["claimed_rows"])
    if data.get("released") or not data.get("execution_arn"):
        return Ledger(trained_rows=rows)
    claimed_at = datetime.fromisoformat(data["claimed_at"])
    claim = Claim(
        execution_arn=str(data["execution_arn"]),
        claimed_rows=rows,
        forced=bool(data.get("forced", False)),
        claimed_at=claimed_at,
        expires_at=claimed_at + timedelta(seconds=CLAIM_TTL_S),
    )
    return Ledger(claims=(claim,))


@dataclass(frozen=True)
class TrainingDecision:
    """Whether this execution trains, and the row counts behind the decision."""

    train: bool
    reason: str
    curated_rows: int
    claimed_rows_before: int
    new_rows: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "train": self.train,
            "reason": self.reason,
            "curated_rows": self.curated_rows,
            "claimed_rows_before": self.claimed_rows_before,
            "new_rows": self.new_rows,
        }


def read_ledger(store: ObjectStore, bucket: str) -> tuple[Ledger, str | None]:
    """Return the ledger and its ETag, or an empty ledger and None before the first claim."""
    found = store.read_latest(bucket, LEDGER_KEY)
    if found is None:
        return Ledger(), None
    return Ledger.from_dict(json.loads(found.body)), found.etag


def _write(store: ObjectStore, bucket: str, ledger: Ledger, etag: str | None) -> None:
    body = json.dumps(ledger.to_dict(), indent=2).encode()
    store.replace(bucket, LEDGER_KEY, body, expected_etag=etag)


def _now(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(UTC)


def claimed_rows(
    store: ObjectStore,
    bucket: str,
    *,
    execution_arn: str | None = None,
    now: datetime | None = None,
) -> int:
    """Return the curated rows covered by trainings, without the claim of `execution_arn`.

    Returns 0 before the first training. Expired claims do not count.
    """
    ledger, _ = read_ledger(store, bucket)
    return ledger.covered_rows(_now(now), excluding=execution_arn)


def claim_training(
    store: ObjectStore,
    bucket: str,
    *,
    curated_rows: int,
    min_new_rows: int,
    force: bool,
    execution_arn: str,
    now: datetime | None = None,
) -> TrainingDecision:
    """Decide whether to train on `curated_rows` rows and, if so, record the claim.

    Trains when `force` is set or when curated_rows minus the covered rows reaches
    `min_new_rows`. A claim that the same execution made before (a retried step) is replaced,
    and expired claims are dropped. Raises ObjectChangedError when the ledger keeps changing
    under it through MAX_CLAIM_ATTEMPTS attempts.
    """
    for attempt in range(1, MAX_CLAIM_ATTEMPTS + 1):
        current = _now(now)
        ledger, etag = read_ledger(store, bucket)
        _log_expired(ledger, current)
        covered_before = ledger.covered_rows(current, excluding=execution_arn)
        new_rows = curated_rows - covered_before
        if not force and new_rows < min_new_rows:
            reason = (
                f"{new_rows} new curated rows since the last training, below min_new_rows "
                f"{min_new_rows}"
            )
            logger.info(reason)
            return TrainingDecision(False, reason, curated_rows, covered_before, new_rows)

        claim = Claim(
            execution_arn=execution_arn,
            claimed_rows=curated_rows,
            forced=force,
            claimed_at=current,
            expires_at=current + timedelta(seconds=CLAIM_TTL_S),
        )
        claims = (*ledger.live_claims(current, excluding=execution_arn), claim)
        try:
            _write(store, bucket, replace(ledger, claims=claims), etag)
        except ObjectChangedError:
            logger.info(
                "training ledger changed during claim attempt %d; reading it again", attempt
            )
            continue

        reason = (
            "forced training" if force else f"{new_rows} new curated rows since the last training"
        )
        logger.info(
            "execution %s claimed training on %d curated rows until %s: %s",
            execution_arn,
            curated_rows,
            claim.expires_at.isoformat(),
            reason,
        )
        return TrainingDecision(True, reason, curated_rows, covered_before, new_rows)
    raise ObjectChangedError(f"s3://{bucket}/{LEDGER_KEY}")


def complete_training(
    store: ObjectStore,
    bucket: str,
    *,
    execution_arn: str,
    curated_rows: int,
    now: datetime | None = None,
) -> None:
    """Record that the training of `execution_arn` on `curated_rows` rows finished.

    Raises ObjectChangedError when the ledger keeps changing under it through
    MAX_CLAIM_ATTEMPTS attempts.
    """
    for attempt in range(1, MAX_CLAIM_ATTEMPTS + 1):
        current = _now(now)
        ledger, etag = read_ledger(store, bucket)
        completed = Ledger(
            trained_rows=max(ledger.trained_rows, curated_rows),
            trained_by=(
                execution_arn if curated_rows >= ledger.trained_rows else ledger.trained_by
            ),
            claims=ledger.live_claims(current, excluding=execution_arn),
        )
        try:
            _write(store, bucket, completed, etag)
        except ObjectChangedError:
            logger.info(
                "training ledger changed during completion attempt %d; reading it again",
                attempt,
            )
            continue
        logger.info(
            "execution %s finished training on %d curated rows", execution_arn, curated_rows
        )
        return
    raise ObjectChangedError(f"s3://{bucket}/{LEDGER_KEY}")


def release_claim(
    store: ObjectStore, bucket: str, execution_arn: str, *, now: datetime | None = None
) -> bool:
    """Remove the claim of a failed training, so that its rows count as new again.

    Returns whether the execution had a claim to release. Raises ObjectChangedError when the
    ledger keeps changing under it through MAX_CLAIM_ATTEMPTS attempts.
    """
    for attempt in range(1, MAX_CLAIM_ATTEMPTS + 1):
        current = _now(now)
        ledger, etag = read_ledger(store, bucket)
        if not any(claim.execution_arn == execution_arn for claim in ledger.claims):
            logger.info("execution %s has no training claim to release", execution_arn)
            return False
        remaining = ledger.live_claims(current, excluding=execution_arn)
        try:
            _write(store, bucket, replace(ledger, claims=remaining), etag)
        except ObjectChangedError:
            logger.info(
                "training ledger changed during release attempt %d; reading it again", attempt
            )
            continue
        logger.info("released the training claim of execution %s", execution_arn)
        return True
    raise ObjectChangedError(f"s3://{bucket}/{LEDGER_KEY}")


def _log_expired(ledger: Ledger, now: datetime) -> None:
    for claim in ledger.claims:
        if claim.expires_at <= now:
            logger.warning(
                "training claim of execution %s on %d curated rows expired at %s without a "
                "result; its rows count as new again",
                claim.execution_arn,
                claim.claimed_rows,
                claim.expires_at.isoformat(),
            )
