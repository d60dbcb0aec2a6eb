"""The retraining ledger: the cooldown between drift retrainings, and windows already used.

One JSON object in the reports bucket records when drift last started a retraining and every
window that started one. A window is the identity of the data a check compared (the
reference's dataset version and the audit and curated objects it read), so a drift check
that reads the same data again never starts a second retraining, even after the cooldown.

Claims are conditional writes (If-Match on the ETag read), so of two drift checks running at
once only one claims; the other reads the ledger again and finds the cooldown running.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from mhpe.storage import ObjectChangedError, ObjectStore

logger = logging.getLogger(__name__)

LEDGER_KEY = "drift/retraining-ledger.json"
# The ledger keeps the most recent windows only. A window older than this many retrainings
# could start another one, but with the default 24-hour cooldown that takes over a year.
MAX_WINDOWS = 500
MAX_CLAIM_ATTEMPTS = 5


@dataclass(frozen=True)
class RetrainingClaim:
    """The outcome of a claim: granted, or the reason it was denied."""

    granted: bool
    reason: str
    etag: str | None = None
    previous: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"granted": self.granted, "reason": self.reason}


def _read(store: ObjectStore, bucket: str) -> tuple[dict[str, Any], str | None]:
    found = store.read_latest(bucket, LEDGER_KEY)
    if found is None:
        return {"last_triggered_at": None, "windows": {}}, None
    return json.loads(found.body), found.etag


def _denial(
    ledger: dict[str, Any], window_id: str, now: datetime, cooldown: timedelta
) -> str | None:
    used_at = ledger["windows"].get(window_id)
    if used_at is not None:
        return f"window {window_id[:16]} already started a retraining at {used_at}"
    last = ledger.get("last_triggered_at")
    if last is None:
        return None
    last_at = datetime.fromisoformat(last)
    if now - last_at < cooldown:
        return (
            f"cooldown: the last drift retraining started at {last}, the next may start at "
            f"{(last_at + cooldown).isoformat()}"
        )
    return None


def claim_retraining(
    store: ObjectStore, bucket: str, *, window_id: str, now: datetime, cooldown: timedelta
) -> RetrainingClaim:
    """Claim the right to start a retraining for `window_id` at `now`.

    Denied when the window already started one or when `now` is within `cooldown` of the last
    one. Raises ObjectChangedError when the ledger keeps changing through MAX_CLAIM_ATTEMPTS.
    """
    for attempt in range(1, MAX_CLAIM_ATTEMPTS + 1):
        ledger, etag = _read(store, bucket)
        denial = _denial(ledger, window_id, now, cooldown)
        if denial is not None:
            logger.info("retraining not started: %s", denial)
            return RetrainingClaim(False, denial)

        windows = dict(ledger["windows"])
        windows[window_id] = now.isoformat()
        kept = dict(sorted(windows.items(), key=lambda item: item[1])[-MAX_WINDOWS:])
        claimed = {
            "last_triggered_at": now.isoformat(),
            "last_window_id": window_id,
            "windows": kept,
        }
        try:
            written = store.replace(
                bucket, LEDGER_KEY, json.dumps(claimed).encode(), expected_etag=etag
            )
        except ObjectChangedError:
            logger.info(
                "retraining ledger changed during claim attempt %d; reading it again", attempt
            )
            continue
        logger.info(
            "claimed a drift retraining for window %s at %s", window_id[:16], now.isoformat()
        )
        return RetrainingClaim(True, "claimed", written.etag, ledger)
    raise ObjectChangedError(f"s3://{bucket}/{LEDGER_KEY}")


def release_retraining(store: ObjectStore, bucket: str, claim: RetrainingClaim) -> bool:
    """Restore the ledger as it was before a claim whose retraining could not start.

    Returns False, leaving the ledger as it is, when another claim was written since.
    """
    if not claim.granted or claim.etag is None or claim.previous is None:
        return False
    try:
        store.replace(
            bucket, LEDGER_KEY, json.dumps(claim.previous).encode(), expected_etag=claim.etag
        )
    except ObjectChangedError:
        logger.warning("retraining ledger changed after this claim; the claim stays")
        return False
    logger.info("released the drift retraining claim")
    return True
