"""Exceptions that the pipeline's steps raise on purpose."""

from __future__ import annotations

from mhpe.exceptions import MhpeError


class PipelineInputError(MhpeError, ValueError):
    """A step received a state that lacks what the step needs."""


class ChampionChangedError(MhpeError):
    """The champion moved between the evaluation and the promotion of a challenger.

    The state machine catches this error by its class name and evaluates the challenger
    again, against the new champion.
    """

    def __init__(self, model_name: str, evaluated: str | None, current: str | None) -> None:
        self.model_name = model_name
        self.evaluated = evaluated
        self.current = current
        super().__init__(
            f"champion of {model_name} changed from version {evaluated or '(none)'} to "
            f"{current or '(none)'} after the evaluation; evaluate the challenger again"
        )
