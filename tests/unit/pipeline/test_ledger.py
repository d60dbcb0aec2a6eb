"""The training ledger: min_new_rows, forced trainings, concurrent claims, released claims."""

from __future__ import annotations

import json

from mhpe.pipeline.ledger import LEDGER_KEY, claim_training, claimed_rows, release_claim
from mhpe.storage import ObjectStore


def _claim(store: ObjectStore, rows: int, *, minimum: int = 500, force: bool = False):
    return claim_training(
        store,
        "models",
        curated_rows=rows,
        min_new_rows=minimum,
        force=force,
        execution_arn=f"arn:execution:{rows}",
    )


def test_claim_waits_for_min_new_rows(store: ObjectStore) -> None:
    decision = _claim(store, 499)

    assert decision.train is False
    assert "below min_new_rows 500" in decision.reason
    assert store.read_latest("models", LEDGER_KEY) is None


def test_claim_records_rows(store: ObjectStore) -> None:
    decision = _claim(store, 800)

    ledger = json.loads(store.read_latest("models", LEDGER_KEY).body)
    assert decision.train is True
    assert decision.new_rows == 800
    assert ledger["claimed_rows"] == 800
    assert claimed_rows(store, "models") == 800


def test_second_claim_counts_only_new_rows(store: ObjectStore) -> None:
    _claim(store, 800)

    too_few = _claim(store, 1200)
    enough = _claim(store, 1300)

    assert too_few.train is False
    assert too_few.new_rows == 400
    assert enough.train is True
    assert enough.claimed_rows_before == 800


def test_forced_claim_ignores_min_new_rows(store: ObjectStore) -> None:
    _claim(store, 800)

    decision = _claim(store, 800, force=True)

    assert decision.train is True
    assert decision.reason == "forced training"


def test_zero_min_new_rows_trains_every_time(store: ObjectStore) -> None:
    assert _claim(store, 10, minimum=0).train is True
    assert _claim(store, 10, minimum=0).train is True


def test_concurrent_claim_loses_the_race(store: ObjectStore) -> None:
    # Two executions read the empty ledger; the first writes its claim before the second.
    real_read_latest = store.read_latest
    reads: list[int] = []

    def read_before_first_claim(bucket: str, key: str):
        reads.append(1)
        return None if len(reads) == 1 else real_read_latest(bucket, key)

    _claim(store, 800)
    store.read_latest = read_before_first_claim  # type: ignore[method-assign]

    decision = _claim(store, 900)

    assert len(reads) == 2
    assert decision.train is False
    assert decision.new_rows == 100


def test_release_restores_previous_claim(store: ObjectStore) -> None:
    _claim(store, 800)
    failed = _claim(store, 1500)

    released = release_claim(store, "models", failed)

    assert released is True
    assert claimed_rows(store, "models") == 800


def test_release_keeps_later_claim(store: ObjectStore) -> None:
    failed = _claim(store, 800)
    _claim(store, 1500)

    released = release_claim(store, "models", failed)

    assert released is False
    assert claimed_rows(store, "models") == 1500
