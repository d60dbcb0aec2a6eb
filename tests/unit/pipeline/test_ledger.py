"""The training ledger: min_new_rows, forced trainings, concurrent, released and expired claims."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from mhpe.pipeline.ledger import (
    CLAIM_TTL_S,
    LEDGER_KEY,
    TRAIN_TIMEOUT_S,
    TrainingDecision,
    claim_training,
    claimed_rows,
    complete_training,
    release_claim,
)
from mhpe.storage import ObjectStore


def _claim(
    store: ObjectStore,
    rows: int,
    *,
    minimum: int = 500,
    force: bool = False,
    arn: str | None = None,
    now: datetime | None = None,
) -> TrainingDecision:
    return claim_training(
        store,
        "models",
        curated_rows=rows,
        min_new_rows=minimum,
        force=force,
        execution_arn=arn or f"arn:execution:{rows}",
        now=now,
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
    assert ledger["claims"][0]["claimed_rows"] == 800
    assert ledger["claims"][0]["execution_arn"] == "arn:execution:800"
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

    released = release_claim(store, "models", "arn:execution:1500")

    assert failed.train is True
    assert released is True
    assert claimed_rows(store, "models") == 800


def test_release_of_earlier_claim_keeps_later_claim(store: ObjectStore) -> None:
    _claim(store, 800)
    _claim(store, 1500)

    released = release_claim(store, "models", "arn:execution:800")

    assert released is True
    assert claimed_rows(store, "models") == 1500


def test_release_of_later_claim_restores_earlier_claim(store: ObjectStore) -> None:
    _claim(store, 800)
    _claim(store, 1500)

    release_claim(store, "models", "arn:execution:1500")

    assert claimed_rows(store, "models") == 800


def test_completed_training_survives_expiry(store: ObjectStore) -> None:
    _claim(store, 800)
    complete_training(store, "models", execution_arn="arn:execution:800", curated_rows=800)

    later = datetime.now(UTC) + timedelta(seconds=CLAIM_TTL_S + 1)

    assert claimed_rows(store, "models", now=later) == 800
    assert json.loads(store.read_latest("models", LEDGER_KEY).body)["claims"] == []


def test_unfinished_claim_expires_after_train_timeout(store: ObjectStore) -> None:
    _claim(store, 800)
    complete_training(store, "models", execution_arn="arn:execution:800", curated_rows=800)
    _claim(store, 1500)  # a training killed before it reported back
    before_expiry = datetime.now(UTC) + timedelta(seconds=TRAIN_TIMEOUT_S)
    after_expiry = datetime.now(UTC) + timedelta(seconds=CLAIM_TTL_S + 1)

    blocked = _claim(store, 1600, now=before_expiry)
    retried = _claim(store, 1600, now=after_expiry)

    assert CLAIM_TTL_S > TRAIN_TIMEOUT_S
    assert blocked.train is False
    assert blocked.new_rows == 100
    assert retried.train is True
    assert retried.new_rows == 800
    assert retried.claimed_rows_before == 800


def test_retried_step_replaces_own_claim(store: ObjectStore) -> None:
    first = _claim(store, 800, arn="arn:execution:retried")

    again = _claim(store, 800, arn="arn:execution:retried")

    ledger = json.loads(store.read_latest("models", LEDGER_KEY).body)
    assert first.train is True
    assert again.train is True
    assert again.new_rows == 800
    assert len(ledger["claims"]) == 1


def test_release_without_claim_returns_false(store: ObjectStore) -> None:
    _claim(store, 800)

    assert release_claim(store, "models", "arn:execution:other") is False
    assert claimed_rows(store, "models") == 800


def test_single_claim_ledger_expires(store: ObjectStore) -> None:
    # The earlier ledger format kept one claim and did not record whether its training finished.
    claimed_at = datetime.now(UTC)
    old = {
        "claimed_rows": 3130,
        "execution_arn": "arn:execution:forced-restart",
        "forced": True,
        "claimed_at": claimed_at.isoformat(),
    }
    store.replace("models", LEDGER_KEY, json.dumps(old).encode(), expected_etag=None)
    after_expiry = claimed_at + timedelta(seconds=CLAIM_TTL_S + 1)

    assert claimed_rows(store, "models") == 3130
    assert claimed_rows(store, "models", now=after_expiry) == 0


def test_released_single_claim_ledger_counts_rows(store: ObjectStore) -> None:
    old = {"claimed_rows": 800, "execution_arn": None, "released": True,
           "claimed_at": datetime.now(UTC).isoformat()}  # fmt: skip
    store.replace("models", LEDGER_KEY, json.dumps(old).encode(), expected_etag=None)

    assert claimed_rows(store, "models") == 800
