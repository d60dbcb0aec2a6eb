"""Loading the champion from S3, noticing a promotion, and never serving a bad model."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from mhpe.onnx_export import derivation_model
from mhpe.pipeline import promote
from mhpe.serving import champion
from mhpe.serving.champion import ChampionWatcher
from mhpe.serving.champion_store import ChampionStore, PointerVersion
from mhpe.serving.exceptions import ModelNotReadyError
from mhpe.serving.manifest import CHAMPION_POINTER_KEY
from mhpe.storage import ObjectStore
from mhpe.training import TrainingResult

from tests.serve.conftest import MODELS_BUCKET, ServeHarness
from tests.serve.serve_support import publish_champion, sample_houses

SWITCH_TIMEOUT_S = 60.0


class CountingStore(ChampionStore):
    """A ChampionStore that counts its reads of the pointer and of ONNX files."""

    def __init__(self, bucket: str, client: Any) -> None:
        super().__init__(bucket, client)
        self.pointer_checks = 0
        self.model_reads = 0

    def pointer_version(self) -> PointerVersion | None:
        self.pointer_checks += 1
        return super().pointer_version()

    def read_model(self, manifest: Any) -> bytes:
        self.model_reads += 1
        return super().read_model(manifest)


class ManualClock:
    def __init__(self) -> None:
        self.now_s = 0.0

    def __call__(self) -> float:
        return self.now_s


@pytest.fixture
def events() -> list[str]:
    return []


@pytest.fixture
def counting_store(s3: Any) -> CountingStore:
    return CountingStore(MODELS_BUCKET, s3)


def _watcher(
    store: ChampionStore, events: list[str], clock: Callable[[], float] | None = None
) -> ChampionWatcher:
    options: dict[str, Any] = {"on_event": events.append}
    if clock is not None:
        options["clock"] = clock
    return ChampionWatcher(store, refresh_interval_s=10.0, **options)


def test_pointer_key_matches_promote_step() -> None:
    assert CHAMPION_POINTER_KEY == promote.CHAMPION_POINTER_KEY


def test_watcher_without_pointer_is_not_ready(counting_store: CountingStore) -> None:
    watcher = _watcher(counting_store, [])

    changed = watcher.refresh()

    assert changed is False
    assert watcher.current is None
    with pytest.raises(ModelNotReadyError, match="no champion pointer at s3://models/"):
        watcher.require()


def test_watcher_loads_promoted_model(
    store: ObjectStore, counting_store: CountingStore, model_a: TrainingResult, events: list[str]
) -> None:
    published = publish_champion(store, MODELS_BUCKET, model_a, "1")
    watcher = _watcher(counting_store, events)

    changed = watcher.refresh()
    model = watcher.require()

    assert changed is True
    assert model.version == "1"
    assert model.predict(sample_houses(3)) == pytest.approx(published.prices(sample_houses(3)))
    assert events == [champion.MODEL_SWAPPED]


def test_watcher_swaps_to_new_champion(
    store: ObjectStore,
    counting_store: CountingStore,
    model_a: TrainingResult,
    model_b: TrainingResult,
    events: list[str],
) -> None:
    publish_champion(store, MODELS_BUCKET, model_a, "1")
    watcher = _watcher(counting_store, events)
    watcher.refresh()
    first = watcher.current

    publish_champion(store, MODELS_BUCKET, model_b, "2", replaced_version="1")
    changed = watcher.refresh()

    assert changed is True
    assert watcher.require().version == "2"
    assert first is not None and first.version == "1"
    assert events == [champion.MODEL_SWAPPED, champion.MODEL_SWAPPED]


def test_unchanged_pointer_reads_no_model(
    store: ObjectStore, counting_store: CountingStore, model_a: TrainingResult
) -> None:
    publish_champion(store, MODELS_BUCKET, model_a, "1")
    watcher = _watcher(counting_store, [])
    watcher.refresh()

    changed = watcher.refresh()

    assert changed is False
    assert counting_store.pointer_checks == 2
    assert counting_store.model_reads == 1


def test_poll_checks_at_most_once_per_interval(
    store: ObjectStore, counting_store: CountingStore, model_a: TrainingResult
) -> None:
    publish_champion(store, MODELS_BUCKET, model_a, "1")
    clock = ManualClock()
    watcher = _watcher(counting_store, [], clock)
    watcher.refresh()

    for _ in range(5):
        clock.now_s += 1.0
        watcher.poll()
        assert watcher.wait_for_check(timeout_s=10)
    checks_within_interval = counting_store.pointer_checks
    clock.now_s += 6.0
    watcher.poll()
    assert watcher.wait_for_check(timeout_s=10)

    assert checks_within_interval == 1
    assert counting_store.pointer_checks == 2


def test_corrupt_model_never_serves(
    store: ObjectStore,
    counting_store: CountingStore,
    model_a: TrainingResult,
    model_b: TrainingResult,
    events: list[str],
) -> None:
    publish_champion(store, MODELS_BUCKET, model_a, "1")
    watcher = _watcher(counting_store, events)
    watcher.refresh()
    corrupt = model_b.onnx_bytes[: len(model_b.onnx_bytes) // 2]

    publish_champion(store, MODELS_BUCKET, model_b, "2", onnx_bytes=corrupt)
    changed = watcher.refresh()
    retried = watcher.refresh()

    assert changed is False
    assert retried is False
    assert watcher.require().version == "1"
    assert "model version 2 rejected: SHA-256" in (watcher.status().last_error or "")
    assert counting_store.model_reads == 2
    assert events == [champion.MODEL_SWAPPED, champion.MODEL_REJECTED]


def test_model_without_price_output_is_rejected(
    store: ObjectStore, counting_store: CountingStore, model_a: TrainingResult, events: list[str]
) -> None:
    wrong_graph = dataclasses.replace(model_a, onnx_bytes=derivation_model().SerializeToString())
    publish_champion(store, MODELS_BUCKET, wrong_graph, "1")
    watcher = _watcher(counting_store, events)

    watcher.refresh()

    assert watcher.current is None
    assert "has no output 'price_usd'" in (watcher.status().last_error or "")
    assert events == [champion.MODEL_REJECTED]


def test_invalid_pointer_keeps_current_model(
    s3: Any,
    store: ObjectStore,
    counting_store: CountingStore,
    model_a: TrainingResult,
    events: list[str],
) -> None:
    published = publish_champion(store, MODELS_BUCKET, model_a, "1")
    watcher = _watcher(counting_store, events)
    watcher.refresh()
    broken = {key: value for key, value in published.manifest.items() if key != "onnx"}

    s3.put_object(Bucket=MODELS_BUCKET, Key=CHAMPION_POINTER_KEY, Body=json.dumps(broken))
    watcher.refresh()

    assert watcher.require().version == "1"
    assert "onnx: Field required" in (watcher.status().last_error or "")
    assert events == [champion.MODEL_SWAPPED, champion.MODEL_REJECTED]


def test_unreachable_bucket_is_retried(
    s3: Any, store: ObjectStore, model_a: TrainingResult, events: list[str]
) -> None:
    watcher = _watcher(ChampionStore("models-not-created-yet", s3), events)

    first = watcher.refresh()
    s3.create_bucket(Bucket="models-not-created-yet")
    publish_champion(store, "models-not-created-yet", model_a, "1")
    second = watcher.refresh()

    assert first is False
    assert second is True
    assert events == [champion.CHECK_FAILED, champion.MODEL_SWAPPED]


# Powertools keeps one metric set per process, so with four client threads one thread's flush
# may find the set already emptied by another; Lambda runs one request per process.
@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_switch_under_load_never_mixes_versions(
    store: ObjectStore,
    model_a: TrainingResult,
    model_b: TrainingResult,
    harness_factory: Callable[..., ServeHarness],
) -> None:
    published_a = publish_champion(store, MODELS_BUCKET, model_a, "1")
    harness = harness_factory(refresh_interval_s=0.05)
    houses = sample_houses(10)
    expected = {"1": published_a.prices(houses)}
    responses: list[Any] = []
    stop = threading.Event()

    def client() -> None:
        # Mangum runs the app on the thread's event loop, which only the main thread has.
        asyncio.set_event_loop(asyncio.new_event_loop())
        while not stop.is_set():
            responses.append(harness.call("POST", "/predict/batch", {"houses": houses}))

    def served_version_2() -> bool:
        return bool(responses) and responses[-1].json().get("model_version") == "2"

    with ThreadPoolExecutor(max_workers=4) as pool:
        clients = [pool.submit(client) for _ in range(4)]
        wait_until(lambda: len(responses) >= 20, SWITCH_TIMEOUT_S)
        expected["2"] = publish_champion(
            store, MODELS_BUCKET, model_b, "2", replaced_version="1"
        ).prices(houses)
        wait_until(served_version_2, SWITCH_TIMEOUT_S)
        switched_at = len(responses)
        wait_until(lambda: len(responses) >= switched_at + 20, SWITCH_TIMEOUT_S)
        stop.set()
        for future in clients:
            future.result()

    statuses = [response.status for response in responses]
    versions = [response.json()["model_version"] for response in responses]
    assert set(statuses) == {200}
    assert "1" in versions
    assert versions[-1] == "2"
    for response in responses:
        body = response.json()
        assert body["prices_usd"] == expected[body["model_version"]]


def wait_until(condition: Callable[[], bool], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s} s")
        time.sleep(0.02)
