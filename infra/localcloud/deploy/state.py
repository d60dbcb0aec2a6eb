"""The stack records that deployments store: state_dir/stacks/STACK.json."""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

STACKS_FOLDER = "stacks"
STATUS_COMPLETE = "DEPLOY_COMPLETE"
STATUS_FAILED = "DEPLOY_FAILED"
LOCK_TIMEOUT_S = 600.0
LOCK_POLL_S = 0.2


@dataclass
class StackRecord:
    """What the last deployment of a stack created, as stored in STACK.json.

    resources maps each logical id to a CloudFormation-style entry: Type,
    PhysicalResourceId, Attributes (the values of Fn::GetAtt), Properties (resolved, with
    secret values left out), PropertiesHash, DeferredHash and DependsOn.
    parameters holds the overrides given to the deployment, which a redeployment passes
    again; parameter_values holds every parameter's value, NoEcho ones masked.
    """

    stack_name: str
    template_path: str
    endpoint_url: str
    region: str
    account_id: str
    parameters: dict[str, str] = field(default_factory=dict)
    parameter_values: dict[str, Any] = field(default_factory=dict)
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    status: str = STATUS_COMPLETE
    status_reason: str = ""
    deployed_at: str = ""

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StackRecord:
        known = set(cls.__dataclass_fields__)
        return cls(**{key: value for key, value in data.items() if key in known})


def stack_path(state_dir: Path, stack_name: str) -> Path:
    """Return where the record of stack_name lives."""
    return state_dir / STACKS_FOLDER / f"{stack_name}.json"


def load_stack(state_dir: Path, stack_name: str) -> StackRecord | None:
    """Return what the last deployment of stack_name stored, or None if it never ran."""
    path = stack_path(state_dir, stack_name)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    return StackRecord.from_json(data)


def list_stacks(state_dir: Path) -> list[StackRecord]:
    """Return the record of every stack deployed with this state folder, by name."""
    folder = state_dir / STACKS_FOLDER
    if not folder.is_dir():
        return []
    records = []
    for path in sorted(folder.glob("*.json")):
        try:
            records.append(StackRecord.from_json(json.loads(path.read_text())))
        except (OSError, ValueError, TypeError) as error:
            logger.warning("skipped unreadable stack record %s: %s", path, error)
    return records


def save_stack(state_dir: Path, record: StackRecord) -> None:
    """Write the record atomically, readable only by its owner (it may hold parameters)."""
    path = stack_path(state_dir, record.stack_name)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".json.partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        json.dump(asdict(record), file, indent=2, sort_keys=True)
        file.write("\n")
    os.replace(partial, path)


@contextlib.contextmanager
def stack_lock(
    state_dir: Path, stack_name: str, timeout_s: float = LOCK_TIMEOUT_S
) -> Iterator[None]:
    """Hold an exclusive lock on the stack, so that two deployments of it never interleave.

    Raises TimeoutError when another process holds the lock for longer than timeout_s.
    """
    path = stack_path(state_dir, stack_name).with_suffix(".lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout_s
    with path.open("w") as lock_file:
        while True:
            try:
                fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"stack {stack_name} is being deployed by another process "
                        f"(lock {path} held for over {timeout_s:.0f} s); retry when it ends"
                    ) from None
                time.sleep(LOCK_POLL_S)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)
