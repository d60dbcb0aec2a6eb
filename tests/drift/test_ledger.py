"""The retraining ledger: cooldown, one retraining per window, concurrent claims, release."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from mhpe.drift.ledger import claim_retraining, release_retraining
from mhpe.storage import ObjectStore

BUCKET = "reports"
COOLDOWN = timedelta(hours=24)
NOON = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def _claim(store: ObjectStore, window: str, at: datetime):
    return claim_retraining(store, BUCKET, window_id=window, now=at, cooldown=COOLDOWN)


def test_first_claim_is_granted(store: ObjectStore) -> None:
    claim = _claim(store, "a" * 64, NOON)

    assert claim.granted
    assert claim.reason == "claimed"


def test_claim_within_cooldown_is_denied(store: ObjectStore) -> None:
    _claim(store, "a" * 64, NOON)

    claim = _claim(store, "b" * 64, NOON + timedelta(hours=23))

    assert not claim.granted
    assert claim.reason.startswith("cooldown:")
    assert "2026-12-05T12:00:00+00:00" in claim.reason


def test_claim_after_cooldown_is_granted(store: ObjectStore) -> None:
    _claim(store, "a" * 64, NOON)

    assert _claim(store, "b" * 64, NOON + COOLDOWN).granted


def test_same_window_never_claims_twice(store: ObjectStore) -> None:
    _claim(store, "a" * 64, NOON)

    claim = _claim(store, "a" * 64, NOON + 10 * COOLDOWN)

    assert not claim.granted
    assert "already started a retraining" in claim.reason


def test_concurrent_claims_grant_one(store: ObjectStore) -> None:
    windows = [f"{index:064x}" for index in range(6)]

    with ThreadPoolExecutor(max_workers=6) as pool:
        claims = list(pool.map(lambda window: _claim(store, window, NOON), windows))

    assert sum(claim.granted for claim in claims) == 1


def test_release_restores_previous_ledger(store: ObjectStore) -> None:
    claim = _claim(store, "a" * 64, NOON)

    assert release_retraining(store, BUCKET, claim)
    assert _claim(store, "a" * 64, NOON).granted


def test_release_keeps_a_later_claim(store: ObjectStore) -> None:
    first = _claim(store, "a" * 64, NOON)
    _claim(store, "b" * 64, NOON + COOLDOWN)

    assert not release_retraining(store, BUCKET, first)
    assert not _claim(store, "c" * 64, NOON + COOLDOWN).granted
