"""EventBridge schedule expressions: `rate(...)` and AWS's six-field `cron(...)`.

AWS cron fields are: minutes, hours, day-of-month, month, day-of-week, year. Day-of-week counts
1-7 from Sunday (croniter counts 0-6), and `?` means "any" in the day field not used.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from croniter import croniter

RATE_PATTERN = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
CRON_PATTERN = re.compile(r"^cron\((.*)\)$")
RATE_UNITS_S = {"minute": 60, "hour": 3600, "day": 86400}
# Enough to skip to a matching year of a cron with a year field, without looping forever.
MAX_CRON_STEPS = 100_000


class ScheduleExpressionError(ValueError):
    """A schedule expression that EventBridge would reject."""


def parse_rate(expression: str) -> timedelta | None:
    """Return the interval of a `rate(...)` expression, or None if it is not one."""
    match = RATE_PATTERN.match(expression.strip())
    if match is None:
        return None
    value, unit = int(match.group(1)), match.group(2)
    if value < 1:
        raise ScheduleExpressionError(f"invalid schedule {expression!r}: the rate must be >= 1")
    singular = unit.rstrip("s")
    if (value == 1) != (unit == singular):
        raise ScheduleExpressionError(
            f"invalid schedule {expression!r}: use the singular unit for 1 and the plural "
            "otherwise, e.g. rate(1 minute), rate(5 minutes)"
        )
    return timedelta(seconds=value * RATE_UNITS_S[singular])


def next_fire_time(expression: str, after: datetime) -> datetime:
    """Return the first time strictly after `after` at which the schedule fires (UTC)."""
    interval = parse_rate(expression)
    if interval is not None:
        return after + interval
    match = CRON_PATTERN.match(expression.strip())
    if match is None:
        raise ScheduleExpressionError(
            f"invalid schedule {expression!r}: expected rate(N unit) or cron(6 fields)"
        )
    return _next_cron_time(expression, match.group(1).split(), after)


def validate(expression: str) -> None:
    """Raise ScheduleExpressionError if EventBridge would reject the expression."""
    next_fire_time(expression, datetime(2026, 1, 1))


def _next_cron_time(expression: str, fields: list[str], after: datetime) -> datetime:
    if len(fields) != 6:
        raise ScheduleExpressionError(
            f"invalid schedule {expression!r}: AWS cron needs 6 fields "
            f"(minutes hours day-of-month month day-of-week year), got {len(fields)}"
        )
    minutes, hours, day_of_month, month, day_of_week, year = fields
    if (day_of_month == "?") == (day_of_week == "?"):
        raise ScheduleExpressionError(
            f"invalid schedule {expression!r}: exactly one of day-of-month and day-of-week "
            "must be '?'"
        )
    five_fields = " ".join(
        [minutes, hours, _any(day_of_month), month, _to_croniter_weekdays(day_of_week)]
    )
    try:
        iterator = croniter(five_fields, after)
    except (ValueError, KeyError) as error:
        raise ScheduleExpressionError(f"invalid schedule {expression!r}: {error}") from None
    years = _year_filter(expression, year)
    for _ in range(MAX_CRON_STEPS):
        candidate = iterator.get_next(datetime)
        if years(candidate.year):
            return candidate
    raise ScheduleExpressionError(f"schedule {expression!r} never fires after {after:%Y-%m-%d}")


def _any(field: str) -> str:
    return "*" if field == "?" else field


def _to_croniter_weekdays(field: str) -> str:
    """Shift AWS's 1-7 (Sunday first) day numbers to croniter's 0-6."""
    if field == "?":
        return "*"

    def shift(match: re.Match[str]) -> str:
        number = int(match.group(0))
        if not 1 <= number <= 7:
            raise ScheduleExpressionError(
                f"invalid day-of-week {number} in {field!r}: AWS counts 1-7 from Sunday"
            )
        return str(number - 1)

    # Numbers after '#' count weeks of the month, not days: leave them alone.
    return re.sub(r"(?<![#/\d])\d+", shift, field)


def _year_filter(expression: str, field: str):
    if field in ("*", "?"):
        return lambda year: True
    allowed: set[int] = set()
    for part in field.split(","):
        bounds = part.split("-")
        try:
            low, high = int(bounds[0]), int(bounds[-1])
        except ValueError:
            raise ScheduleExpressionError(
                f"invalid schedule {expression!r}: year field {field!r} must be *, a year, "
                "a range or a list"
            ) from None
        allowed.update(range(low, high + 1))
    return lambda year: year in allowed
