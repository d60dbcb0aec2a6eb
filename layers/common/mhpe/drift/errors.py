"""Exceptions that the drift check raises on purpose."""

from __future__ import annotations

from mhpe.exceptions import MhpeError


class DriftReferenceError(MhpeError):
    """The champion's manifest or training snapshot cannot serve as the drift reference."""


class AuditRecordError(MhpeError, ValueError):
    """An audit record of the serve function lacks the time or the input of a prediction."""
