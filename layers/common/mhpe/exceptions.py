"""Exceptions raised by the mhpe package."""

from __future__ import annotations

from pathlib import Path


class MhpeError(Exception):
    """Base class of the errors that mhpe raises on purpose."""


class ConfigError(MhpeError, ValueError):
    """A configuration file is missing, unreadable or contains an invalid value."""


class BatchFormatError(MhpeError, ValueError):
    """A sales batch cannot be used: wrong extension, unreadable, empty or missing columns.

    `reason` is the full message, naming the batch and the problem. The ingest function
    quarantines the batch with it.
    """

    def __init__(self, name: str, problem: str) -> None:
        self.name = name
        self.problem = problem
        super().__init__(f"batch {name} is invalid: {problem}")

    @property
    def reason(self) -> str:
        return str(self)


class BatchExistsError(MhpeError):
    """A batch file already exists with different content and was left unchanged."""

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(
            f"batch file {path} already exists with different content; "
            "delete it or write to another directory"
        )
