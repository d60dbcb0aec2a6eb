"""The training ledger: how many curated rows the last training claimed, for min_new_rows.

The bucket's versioning keeps every earlier claim, so the object contains only the latest.

Many executions reach their train step at once when batches arrive together. Each one reads
the ledger object from the models bucket and, when enough new rows have arrived since the
last claim, claims them with a conditional write (If-Match on the ETag it read). Of two
concurrent claims on the same rows only one succeeds; the other reads the ledger again and
finds too few new rows left. So a burst of batches starts one training, not one per batch.

NOTE: moto 5.2.5 checks If-Match and If-None-Match without a lock, so on the local cloud two
claims in the same instant can both succeed and train twice. S3 itself checks atomically.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mhpe.storage import ObjectChangedError, ObjectStore

logger = logging.getLogger(__name__)

LEDGER_KEY = "pipeline/training-ledger.json"
MAX_CLAIM_ATTEMPTS = 5


@dataclass(frozen=True)
class TrainingDecision:
    """Whether this execution trains, and the row counts behind the decision."""

    train: bool
    reason: str
    curated_rows: int
    claimed_rows_before: int
    new_rows: int
    ledger_etag: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "train": self.train,
            "reason": self.reason,
            "curated_rows": self.curated_rows,
            "claimed_rows_before": self.claimed_rows_before,
            "new_rows": self.new_rows,
        }


def _read(store: ObjectStore, bucket: str) -> tuple[dict[str, Any] | None, str | None]:
    found = store.read_latest(bucket, LEDGER_KEY)
    if found is None:
        return None, None
    return json.loads(found.body), found.etag


def claimed_rows(store: ObjectStore, bucket: str) -> int:
    """Return the curated rows that the last claim covered, 0 before the first training."""
    ledger, _ = _read(store, bucket)
    return int(ledger["claimed_rows"]) if ledger else 0


def claim_training(
    store: ObjectStore,
    bucket: str,
    *,
    curated_rows: int,
    min_new_rows: int,
    force: bool,
    execution_arn: str,
) -> TrainingDecision:
    """Decide whether to train on `curated_rows` rows and, if so, record the claim.

    Trains when `force` is set or when curated_rows minus the rows of the last claim reaches
    `min_new_rows`. Raises ObjectChangedError when the ledger keeps changing under it
    through MAX_CLAIM_ATTEMPTS attempts.
    """
    for attempt in range(1, MAX_CLAIM_ATTEMPTS + 1):
        ledger, etag = _read(store, bucket)
        claimed_before = int(ledger["claimed_rows"]) if ledger else 0
        new_rows = curated_rows - claimed_before
        if not force and new_rows < min_new_rows:
            reason = (
                f"{new_rows} new curated rows since the last training, below min_new_rows "
                f"{min_new_rows}"
            )
            logger.info(reason)
            return TrainingDecision(False, reason, curated_rows, claimed_before, new_rows)

        claim = {
            "claimed_rows": curated_rows,
            "execution_arn": execution_arn,
            "forced": force,
            "claimed_at": datetime.now(UTC).isoformat(),
        }
        try:
            written = store.replace(
                bucket, LEDGER_KEY, json.dumps(claim).encode(), expected_etag=etag
            )
        except ObjectChangedError:
            logger.info(
                "training ledger changed during claim attempt %d; reading it again", attempt
            )
            continue

        reason = (
            "forced training" if force else f"{new_rows} new curated rows since the last training"
        )
        logger.info("claimed training on %d curated rows: %s", curated_rows, reason)
        return TrainingDecision(
            True, reason, curated_rows, claimed_before, new_rows, ledger_etag=written.etag
        )
    raise ObjectChangedError(f"s3://{bucket}/{LEDGER_KEY}")


def release_claim(store: ObjectStore, bucket: str, decision: TrainingDecision) -> bool:
    """Give the rows of a failed training back, unless a later claim was made since.

    Returns whether the ledger was restored to the rows claimed before this decision.
    """
    if not decision.train or decision.ledger_etag is None:
        return False
    restored = {
        "claimed_rows": decision.claimed_rows_before,
        "execution_arn": None,
        "forced": False,
        "claimed_at": datetime.now(UTC).isoformat(),
        "released": True,
    }
    try:
        store.replace(
            bucket, LEDGER_KEY, json.dumps(restored).encode(), expected_etag=decision.ledger_etag
        )
    except ObjectChangedError:
        logger.warning("training ledger changed after this claim; its rows stay claimed")
        return False
    logger.info("released the claim on %d curated rows", decision.curated_rows)
    return True
