"""Deterministic physical names, so that a redeployment finds the resources it created."""

from __future__ import annotations

import hashlib
import re

STACK_NAME_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,127}")
# The strictest common rule: S3 bucket names are 3 to 63 lower-case letters, digits and
# hyphens. Names that follow it are valid for every other supported resource type too.
DEFAULT_MAX_LENGTH = 63
HASH_LENGTH = 8


def check_stack_name(stack_name: str) -> None:
    """Raise ValueError unless stack_name is a valid CloudFormation stack name."""
    if STACK_NAME_PATTERN.fullmatch(stack_name) is None:
        raise ValueError(
            f"invalid stack name {stack_name!r}: use a letter, then letters, digits or "
            "hyphens, at most 128 characters"
        )


def physical_name(stack_name: str, logical_id: str, max_length: int = DEFAULT_MAX_LENGTH) -> str:
    """Return e.g. "mhpe-rawbucket-1a2b3c4d": stack and logical id, lower case, S3-valid.

    The suffix is a hash of the stack name and the logical id, so that two names never
    collide after truncation and the same pair always gives the same name.
    """
    digest = hashlib.sha256(f"{stack_name}/{logical_id}".encode()).hexdigest()[:HASH_LENGTH]
    base = re.sub(r"[^a-z0-9-]+", "-", f"{stack_name}-{logical_id}".lower())
    base = base[: max_length - HASH_LENGTH - 1].strip("-")
    return f"{base}-{digest}"
