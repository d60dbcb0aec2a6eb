"""422 bodies that name each rejected field, its value and the rule it breaks.

FastAPI reports pydantic's errors as `loc`, `type`, `msg`, `input` and `ctx`. This module
turns each into a path such as `houses[3].Gr_Liv_Area`, the value as sent, and a short
rule such as "must be > 0".
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

logger = logging.getLogger(__name__)

# The first part of a request body error's location in FastAPI.
BODY = "body"
MISSING_TYPE = "missing"
MODEL_RULE_TYPE = "value_error"
VALUE_ERROR_PREFIX = "Value error, "

_BOUND_RULES = {
    "greater_than": ("gt", ">"),
    "greater_than_equal": ("ge", ">="),
    "less_than": ("lt", "<"),
    "less_than_equal": ("le", "<="),
}
_TYPE_RULES = {
    "missing": "is required",
    "finite_number": "must be a finite number",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "int_parsing": "must be an integer",
    "int_type": "must be an integer",
    "int_from_float": "must be an integer, without a fractional part",
    "string_type": "must be a string",
    "bool_type": "must be true or false",
    "list_type": "must be a JSON array",
    "dict_type": "must be a JSON object",
    "model_type": "must be a JSON object",
    "model_attributes_type": "must be a JSON object",
    "extra_forbidden": "is not an accepted field",
}


def field_path(location: Sequence[str | int]) -> str:
    """Format a pydantic location as `houses[3].Gr_Liv_Area`, without the leading "body"."""
    parts = list(location)
    if parts and parts[0] == BODY:
        parts = parts[1:]
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or BODY


def describe_rule(error: Mapping[str, Any]) -> str:
    """Return the rule that an error breaks, e.g. "must be > 0" or "must be one of ..."."""
    error_type = str(error.get("type", ""))
    context = error.get("ctx") or {}
    if error_type in _BOUND_RULES:
        key, symbol = _BOUND_RULES[error_type]
        return f"must be {symbol} {_number_text(context.get(key))}"
    if error_type == "literal_error":
        return f"must be one of {context.get('expected')}"
    if error_type == "too_long":
        return f"must contain at most {context.get('max_length')} items"
    if error_type == "too_short":
        return f"must contain at least {context.get('min_length')} items"
    if error_type == "json_invalid":
        return f"must be valid JSON ({context.get('error', 'decode error')})"
    if error_type == MODEL_RULE_TYPE:
        return str(error.get("msg", "")).removeprefix(VALUE_ERROR_PREFIX)
    return _TYPE_RULES.get(error_type, str(error.get("msg", "is invalid")))


def describe_error(error: Mapping[str, Any]) -> dict[str, Any]:
    """Turn one pydantic error into {field, value, rule, message}.

    A rule across fields (Year_Built after Year_Sold) is reported on the house, and its
    value is left out, because the message already names the values.
    """
    field = field_path(error.get("loc", ()))
    rule = describe_rule(error)
    error_type = error.get("type")
    if error_type == MISSING_TYPE:
        return {"field": field, "rule": rule, "message": f"{field} is missing: it {rule}"}
    if error_type == MODEL_RULE_TYPE and isinstance(error.get("input"), Mapping):
        return {"field": field, "rule": rule, "message": f"{field} is invalid: {rule}"}
    value = json_safe(error.get("input"))
    return {
        "field": field,
        "value": value,
        "rule": rule,
        "message": f"{field} = {json.dumps(value)} is invalid: it {rule}",
    }


def validation_error_body(errors: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Build the 422 body: a summary message and every rejected field."""
    described = [describe_error(error) for error in errors]
    summary = described[0]["message"] if described else "request body is invalid"
    if len(described) > 1:
        summary += f" (and {len(described) - 1} more; see errors)"
    return {"message": f"invalid request: {summary}", "errors": described}


def json_safe(value: Any) -> Any:
    """Return `value` in a form that strict JSON can encode (no NaN, no bytes, no sets)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, Mapping):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [json_safe(item) for item in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def _number_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
