"""Token buckets, quotas and the usage plan and stage limits built on them."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from infra.localcloud.gateway.api_keys import ClientKey
from infra.localcloud.gateway.deployments import DeploymentSnapshot, StageView
from infra.localcloud.gateway.errors import (
    GatewayConfigurationError,
    LimitExceededError,
    TooManyRequestsError,
)
from infra.localcloud.gateway.limits import StageThrottle, UsagePlanQuota, UsagePlanThrottle
from infra.localcloud.gateway.quotas import QuotaLedger, QuotaSettings
from infra.localcloud.gateway.routes import MethodRoute
from infra.localcloud.gateway.throttling import BucketRegistry, ThrottleSettings, TokenBucket
from tests.gateway.route_support import build_routes

# A Wednesday.
WEDNESDAY = datetime(2024, 5, 15, 13, 30, tzinfo=UTC)


class FakeClock:
    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> float:
        return self.now_s


def route(resource_path: str = "/items", http_method: str = "GET") -> MethodRoute:
    return MethodRoute("res1", resource_path, http_method, True, None)


def stage_view(method_settings: dict | None = None) -> StageView:
    snapshot = DeploymentSnapshot("api1", "dep1", build_routes({}), (), "HEADER", None)
    return StageView(snapshot, "dev", {}, method_settings or {})


def client_key(
    throttle: dict | None = None,
    quota: dict | None = None,
    method_throttles: dict | None = None,
) -> ClientKey:
    return ClientKey(
        key_id="key1",
        value="value-not-logged",
        usage_plan_id="plan1",
        throttle=throttle or {},
        quota=quota or {},
        method_throttles=method_throttles or {},
    )


def test_token_bucket_refills_at_fractional_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(ThrottleSettings(rate_limit=0.5, burst_limit=3), clock)

    burst = [bucket.try_acquire() for _ in range(4)]
    clock.now_s += 1.0
    after_half_token = bucket.try_acquire()
    clock.now_s += 1.0
    after_one_token = bucket.try_acquire()

    assert burst == [True, True, True, False]
    assert after_half_token is False
    assert after_one_token is True


def test_token_bucket_never_holds_more_than_burst() -> None:
    clock = FakeClock()
    bucket = TokenBucket(ThrottleSettings(rate_limit=10, burst_limit=2), clock)
    clock.now_s += 3600

    admitted = [bucket.try_acquire() for _ in range(3)]

    assert admitted == [True, True, False]


def test_token_bucket_admits_exactly_burst_under_threads() -> None:
    bucket = TokenBucket(ThrottleSettings(rate_limit=0, burst_limit=5))
    thread_count = 32
    barrier = threading.Barrier(thread_count, timeout=10)
    results: list[bool] = []
    results_lock = threading.Lock()

    def acquire() -> None:
        barrier.wait()
        admitted = bucket.try_acquire()
        with results_lock:
            results.append(admitted)

    threads = [threading.Thread(target=acquire) for _ in range(thread_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert len(results) == thread_count
    assert results.count(True) == 5


def test_bucket_registry_refills_when_settings_change() -> None:
    registry = BucketRegistry(FakeClock())
    strict = ThrottleSettings(rate_limit=0, burst_limit=1)

    first = registry.try_acquire("key", strict)
    second = registry.try_acquire("key", strict)
    after_change = registry.try_acquire("key", ThrottleSettings(rate_limit=0, burst_limit=2))

    assert (first, second, after_change) == (True, False, True)


def test_throttle_settings_read_from_stored_fields() -> None:
    fields = {"rateLimit": "1.67", "burstLimit": 10}

    settings = ThrottleSettings.from_fields(fields, "rateLimit", "burstLimit", "plan p")
    without_rate = ThrottleSettings.from_fields({"burstLimit": 5}, "rateLimit", "burstLimit", "p")

    assert settings == ThrottleSettings(rate_limit=1.67, burst_limit=10)
    assert without_rate is None


def test_throttle_settings_reject_negative_rate() -> None:
    fields = {"rateLimit": -1, "burstLimit": 1}

    with pytest.raises(GatewayConfigurationError, match="rate_limit -1.0 is invalid"):
        ThrottleSettings.from_fields(fields, "rateLimit", "burstLimit", "usage plan p")


@pytest.mark.parametrize(
    ("quota", "message"),
    [
        ({"limit": 5, "period": "YEAR"}, "period 'YEAR' is invalid"),
        ({"limit": 5, "period": "WEEK", "offset": 7}, "offset 7 is invalid for period WEEK"),
        ({"limit": 5, "period": "DAY", "offset": 1}, "offset 1 is invalid for period DAY"),
        ({"limit": -1, "period": "DAY"}, "limit -1 is invalid"),
    ],
)
def test_quota_settings_reject_invalid_values(quota: dict, message: str) -> None:
    with pytest.raises(GatewayConfigurationError, match=message):
        QuotaSettings.from_usage_plan(quota, "usage plan p")


@pytest.mark.parametrize(
    ("period", "offset", "now", "expected_start"),
    [
        ("DAY", 0, WEDNESDAY, datetime(2024, 5, 15, tzinfo=UTC)),
        ("WEEK", 0, WEDNESDAY, datetime(2024, 5, 12, tzinfo=UTC)),
        ("WEEK", 1, WEDNESDAY, datetime(2024, 5, 13, tzinfo=UTC)),
        ("WEEK", 1, datetime(2024, 5, 12, 23, 59, tzinfo=UTC), datetime(2024, 5, 6, tzinfo=UTC)),
        ("MONTH", 0, WEDNESDAY, datetime(2024, 5, 1, tzinfo=UTC)),
        ("MONTH", 9, WEDNESDAY, datetime(2024, 5, 10, tzinfo=UTC)),
        ("MONTH", 19, WEDNESDAY, datetime(2024, 4, 20, tzinfo=UTC)),
        ("MONTH", 9, datetime(2024, 1, 5, tzinfo=UTC), datetime(2023, 12, 10, tzinfo=UTC)),
    ],
)
def test_quota_period_start(
    period: str, offset: int, now: datetime, expected_start: datetime
) -> None:
    settings = QuotaSettings(limit=1, period=period, offset=offset)

    assert settings.period_start(now) == expected_start


def test_quota_ledger_resets_in_next_period() -> None:
    now = [WEDNESDAY]
    ledger = QuotaLedger(lambda: now[0])
    settings = QuotaSettings(limit=2, period="DAY")

    today = [ledger.try_consume("key", settings) for _ in range(3)]
    now[0] = WEDNESDAY + timedelta(days=1)
    tomorrow = ledger.try_consume("key", settings)

    assert today == [True, True, False]
    assert tomorrow is True
    assert ledger.used("key") == 1


def test_usage_plan_method_throttle_overrides_plan_throttle() -> None:
    throttle = UsagePlanThrottle(BucketRegistry(FakeClock()))
    client = client_key(
        throttle={"rateLimit": 100.0, "burstLimit": 100},
        method_throttles={"/items/GET": {"rateLimit": 0.0, "burstLimit": 1}},
    )
    view = stage_view()

    throttle.admit(client, view, route("/items", "GET"))
    for _ in range(5):
        throttle.admit(client, view, route("/items", "POST"))
    with pytest.raises(TooManyRequestsError, match="exceeded the throttle of usage plan plan1"):
        throttle.admit(client, view, route("/items", "GET"))


def test_stage_throttle_counts_each_method_apart() -> None:
    throttle = StageThrottle(BucketRegistry(FakeClock()))
    view = stage_view({"*/*": {"throttlingRateLimit": 0.0, "throttlingBurstLimit": 1}})

    throttle.admit(view, route("/items", "GET"))
    throttle.admit(view, route("/items/{id}", "GET"))
    with pytest.raises(TooManyRequestsError, match="GET /items exceeded the throttle of stage"):
        throttle.admit(view, route("/items", "GET"))


def test_stage_throttle_reads_escaped_method_setting() -> None:
    throttle = StageThrottle(BucketRegistry(FakeClock()))
    view = stage_view(
        {"~1items~1{id}/GET": {"throttlingRateLimit": 0.0, "throttlingBurstLimit": 1}}
    )

    throttle.admit(view, route("/items/{id}", "GET"))
    for _ in range(3):
        throttle.admit(view, route("/items", "GET"))
    with pytest.raises(TooManyRequestsError):
        throttle.admit(view, route("/items/{id}", "GET"))


def test_usage_plan_quota_raises_limit_exceeded() -> None:
    quota = UsagePlanQuota(QuotaLedger(lambda: WEDNESDAY))
    client = client_key(quota={"limit": "1", "period": "MONTH", "offset": "0"})

    quota.admit(client)
    with pytest.raises(LimitExceededError, match="used up the quota of usage plan plan1"):
        quota.admit(client)
