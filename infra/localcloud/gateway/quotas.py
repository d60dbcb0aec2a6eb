"""Usage plan quotas: at most `limit` requests per API key in each DAY, WEEK or MONTH (UTC).

`offset` is the day on which a period starts, as the API Gateway API model describes it.
For WEEK, 0 is Sunday and 6 is Saturday. For MONTH, 0 is the 1st and 27 the 28th. For DAY,
it must be 0.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from infra.localcloud.gateway.errors import GatewayConfigurationError

MAX_OFFSET_BY_PERIOD = {"DAY": 0, "WEEK": 6, "MONTH": 27}


@dataclass(frozen=True)
class QuotaSettings:
    """The maximum number of requests per period, the period, and the period's first day."""

    limit: int
    period: str
    offset: int = 0

    def __post_init__(self) -> None:
        if self.limit < 0:
            raise ValueError(f"quota limit {self.limit} is invalid: it must be 0 or more")
        if self.period not in MAX_OFFSET_BY_PERIOD:
            raise ValueError(f"quota period {self.period!r} is invalid: use DAY, WEEK or MONTH")
        max_offset = MAX_OFFSET_BY_PERIOD[self.period]
        if not 0 <= self.offset <= max_offset:
            raise ValueError(
                f"quota offset {self.offset} is invalid for period {self.period}: "
                f"it must be between 0 and {max_offset}"
            )

    @classmethod
    def from_usage_plan(cls, quota: dict[str, Any] | None, owner: str) -> QuotaSettings | None:
        """Read a usage plan's quota as moto stores it, or return None without a limit.

        moto keeps numbers from CreateUsagePlan and text from UpdateUsagePlan, so both are
        accepted. `owner` names the plan in the error raised on a bad value.
        """
        if not quota or quota.get("limit") is None:
            return None
        try:
            return cls(
                limit=int(quota["limit"]),
                period=str(quota.get("period", "")).upper(),
                offset=int(quota.get("offset") or 0),
            )
        except (TypeError, ValueError) as error:
            raise GatewayConfigurationError(f"invalid quota {quota} of {owner}: {error}") from None

    def period_start(self, now: datetime) -> datetime:
        """Return the start (UTC midnight) of the period that contains `now`."""
        midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        if self.period == "DAY":
            return midnight
        if self.period == "WEEK":
            # datetime.weekday() counts from Monday = 0; the offset counts from Sunday = 0.
            days_since_sunday = (midnight.weekday() + 1) % 7
            return midnight - timedelta(days=(days_since_sunday - self.offset) % 7)
        first_day = self.offset + 1
        if midnight.day >= first_day:
            return midnight.replace(day=first_day)
        previous_month = midnight.replace(day=1) - timedelta(days=1)
        return previous_month.replace(day=first_day)


@dataclass
class _Usage:
    period_start: datetime
    used: int


class QuotaLedger:
    """Requests counted per key and period, thread-safe. `clock` returns an aware datetime."""

    def __init__(self, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._clock = clock
        self._usage: dict[Hashable, _Usage] = {}
        self._lock = threading.Lock()

    def try_consume(self, key: Hashable, settings: QuotaSettings) -> bool:
        """Count one request against the quota of `key`, or return False when it is used up."""
        period_start = settings.period_start(self._clock())
        with self._lock:
            usage = self._usage.get(key)
            if usage is None or usage.period_start != period_start:
                usage = _Usage(period_start, 0)
                self._usage[key] = usage
            if usage.used >= settings.limit:
                return False
            usage.used += 1
            return True

    def used(self, key: Hashable) -> int:
        """Return the requests counted for `key` in its latest period."""
        with self._lock:
            usage = self._usage.get(key)
            return 0 if usage is None else usage.used
