"""EventBridge delivery for the local cloud: rule targets, scheduled rules and Scheduler schedules.

moto stores rules and schedules but never fires them, and it cannot deliver to Lambda or Step
Functions targets. This module delivers to both and runs every schedule on time.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from jsonpath_ng import parse as parse_jsonpath

from infra.localcloud.cloud import LocalCloud
from infra.localcloud.config import ACCOUNT_ID, REGION
from infra.localcloud.schedule_expressions import ScheduleExpressionError, next_fire_time

logger = logging.getLogger(__name__)

SCHEDULE_POLL_S = 1.0


@dataclass(frozen=True)
class Schedule:
    """A rule with a ScheduleExpression, or a Scheduler schedule, as the runner sees it."""

    kind: str  # "rule" or "schedule"
    name: str
    arn: str
    expression: str
    targets: tuple[dict[str, Any], ...]


class TargetNotSupportedError(Exception):
    """A target whose service the local cloud cannot deliver to."""


def deliver(cloud: LocalCloud, target: dict[str, Any], payload: str, source: str) -> None:
    """Send a payload to a Lambda function or state machine target."""
    arn = target["Arn"]
    service = arn.split(":")[2]
    if service == "lambda":
        cloud.invoke_async(arn, json.loads(payload), source)
    elif service == "states":
        cloud.start_execution(arn, payload, source)
    else:
        raise TargetNotSupportedError(f"{source}: target {arn} is not a function or state machine")


def rule_target_payload(target: dict[str, Any], event: dict[str, Any]) -> str:
    """Apply a rule target's Input or InputPath to an event (InputTransformer is moto's)."""
    if "Input" in target:
        return target["Input"]
    if "InputPath" in target:
        matches = parse_jsonpath(target["InputPath"]).find(event)
        return json.dumps(matches[0].value if matches else None)
    return json.dumps(event)


def scheduled_event(rule_arn: str, when: datetime) -> dict[str, Any]:
    """Build the event that EventBridge sends for a scheduled rule."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [rule_arn],
        "detail": {},
    }


def list_schedules() -> list[Schedule]:
    """Return every enabled scheduled rule and Scheduler schedule of the local account."""
    from moto.events.models import events_backends
    from moto.scheduler.models import scheduler_backends

    schedules = []
    for bus in events_backends[ACCOUNT_ID][REGION].event_buses.values():
        for rule in list(bus.rules.values()):
            if rule.scheduled_expression and rule.state == "ENABLED":
                schedules.append(
                    Schedule(
                        "rule", rule.name, rule.arn, rule.scheduled_expression, tuple(rule.targets)
                    )
                )
    for group in scheduler_backends[ACCOUNT_ID][REGION].schedule_groups.values():
        for schedule in list(group.schedules.values()):
            if schedule.state == "ENABLED":
                schedules.append(
                    Schedule(
                        "schedule",
                        schedule.name,
                        schedule.arn,
                        schedule.schedule_expression,
                        (schedule.target,),
                    )
                )
    return schedules


def fire(cloud: LocalCloud, schedule: Schedule, when: datetime | None = None) -> list[str]:
    """Deliver one firing of a schedule to its targets; return the target ARNs."""
    when = when or datetime.now(UTC)
    delivered = []
    source = f"{schedule.kind} {schedule.name}"
    for target in schedule.targets:
        if schedule.kind == "rule":
            payload = rule_target_payload(target, scheduled_event(schedule.arn, when))
        else:
            # EventBridge Scheduler sends the target's Input as it is.
            payload = target.get("Input") or "{}"
        try:
            deliver(cloud, target, payload, source)
        except TargetNotSupportedError as error:
            logger.warning("%s", error)
            continue
        delivered.append(target["Arn"])
    logger.info("fired %s at %s: %s", source, when.isoformat(), delivered)
    return delivered


def find_schedule(name: str) -> Schedule | None:
    """Find a scheduled rule or schedule by name or ARN."""
    for schedule in list_schedules():
        if name in (schedule.name, schedule.arn):
            return schedule
    return None


class ScheduleRunner:
    """Fires each enabled schedule when its next time comes, on a background thread."""

    def __init__(self, cloud: LocalCloud) -> None:
        self._cloud = cloud
        self._next_times: dict[tuple[str, str], datetime] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="schedules", daemon=True)
        self._invalid: set[tuple[str, str]] = set()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(SCHEDULE_POLL_S):
            try:
                self._tick(datetime.now(UTC).replace(tzinfo=None))
            except Exception:
                logger.exception("schedule runner tick failed; retrying in %s s", SCHEDULE_POLL_S)

    def _tick(self, now: datetime) -> None:
        current = set()
        for schedule in list_schedules():
            key = (schedule.arn, schedule.expression)
            current.add(key)
            if key in self._invalid:
                continue
            due = self._next_times.get(key)
            try:
                if due is None:
                    self._next_times[key] = next_fire_time(schedule.expression, now)
                    continue
                if now >= due:
                    fire(self._cloud, schedule, due.replace(tzinfo=UTC))
                    self._next_times[key] = next_fire_time(schedule.expression, now)
            except ScheduleExpressionError as error:
                logger.error("%s %s will never fire: %s", schedule.kind, schedule.name, error)
                self._invalid.add(key)
        for key in set(self._next_times) - current:
            del self._next_times[key]
