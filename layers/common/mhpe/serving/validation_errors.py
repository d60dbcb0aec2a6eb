"""422 bodies that name each rejected field, its value and the rule it breaks.

FastAPI reports pydantic's errors as `loc`, `type`, `msg`, `input` and `ctx`. This module
turns each into a path such as `houses[3].Gr_Liv_Area`, the value as sent, and a short
rule such as "must be > 0". A value longer than MAX_ECHOED_VALUE_CHARS as JSON is
summarised ("list of 2000 houses"), a field path is cut at MAX_FIELD_PATH_CHARS, and a body
lists at most MAX_LISTED_ERRORS errors. So a 422 stays within tens of kilobytes, whatever
the size of the request.
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
JSON_INVALID_TYPE = "json_invalid"
VALUE_ERROR_PREFIX = "Value error, "
# A rejected value is echoed as sent up to this length in JSON, and summarised beyond it.
MAX_ECHOED_VALUE_CHARS = 200
# Characters of a long string that its summary keeps.
ECHOED_STRING_PREFIX_CHARS = 50
# Errors listed in one 422 body. The message counts the rest.
MAX_LISTED_ERRORS = 50
# A longer field path, from an unknown field with a long name, is cut to this length.
MAX_FIELD_PATH_CHARS = 120

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
    "extra_forbidden": "is not a field of the house, so it is rejected (see openapi.json)",
    "number_not_boolean": "must be a number, not true or false",
}


def field_path(location: Sequence[str | int]) -> str:
    """Format a pydantic location as `houses[3].Gr_Liv_Area`, without the leading "body".

    A path longer than MAX_FIELD_PATH_CHARS is cut and its length appended.
    """
    parts = list(location)
    if parts and parts[0] == BODY:
        parts = parts[1:]
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    if len(path) > MAX_FIELD_PATH_CHARS:
        path = f"{path[:MAX_FIELD_PATH_CHARS]}... ({len(path)} characters)"
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
    if error_type == JSON_INVALID_TYPE:
        return "must be valid JSON"
    if error_type == MODEL_RULE_TYPE:
        return str(error.get("msg", "")).removeprefix(VALUE_ERROR_PREFIX)
    return _TYPE_RULES.get(error_type, str(error.get("msg", "is invalid")))


def describe_error(error: Mapping[str, Any]) -> dict[str, Any]:
    """Turn one pydantic error into {field, value, rule, message}.

    A rule across fields (Year_Built after Year_Sold) is reported on the house, and its
    value is left out, because the message already names the values. A value longer than
    MAX_ECHOED_VALUE_CHARS as JSON is replaced by its summary.
    """
    rule = describe_rule(error)
    error_type = error.get("type")
    if error_type == JSON_INVALID_TYPE:
        return _describe_invalid_json(error, rule)
    field = field_path(error.get("loc", ()))
    if error_type == MISSING_TYPE:
        return {"field": field, "rule": rule, "message": f"{field} is missing: it {rule}"}
    if error_type == MODEL_RULE_TYPE and isinstance(error.get("input"), Mapping):
        return {"field": field, "rule": rule, "message": f"{field} is invalid: {rule}"}
    value = error.get("input")
    value_text = None if _surely_too_long(value) else json.dumps(json_safe(value))
    if value_text is not None and len(value_text) <= MAX_ECHOED_VALUE_CHARS:
        message = f"{field} = {value_text} is invalid: it {rule}"
        return {"field": field, "value": json_safe(value), "rule": rule, "message": message}
    summary = summarise_value(value, field)
    message = f"{field} ({summary}) is invalid: it {rule}"
    return {"field": field, "value": summary, "rule": rule, "message": message}


def summarise_value(value: Any, field: str) -> str:
    """Describe a JSON value too long to echo: its type and size, or a string's start."""
    if isinstance(value, (list, tuple, set)):
        noun = "house" if field.endswith("houses") else "item"
        return f"list of {len(value)} {noun}{'' if len(value) == 1 else 's'}"
    if isinstance(value, Mapping):
        return f"object with {len(value)} fields"
    text = value if isinstance(value, str) else json.dumps(json_safe(value))
    return f"text of {len(text)} characters starting {text[:ECHOED_STRING_PREFIX_CHARS]!r}"


def _surely_too_long(value: Any) -> bool:
    """Tell, without encoding it, that a value's JSON is over MAX_ECHOED_VALUE_CHARS.

    Each item of a list or an object takes at least two characters of JSON, so a list of
    2,000 houses is summarised without encoding megabytes first.
    """
    if isinstance(value, str):
        return len(value) > MAX_ECHOED_VALUE_CHARS
    if isinstance(value, (list, tuple, set, Mapping)):
        return 2 * len(value) > MAX_ECHOED_VALUE_CHARS
    return False


def validation_error_body(errors: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Build the 422 body: a summary message and the first MAX_LISTED_ERRORS rejections."""
    described = [describe_error(error) for error in errors[:MAX_LISTED_ERRORS]]
    summary = described[0]["message"] if described else "request body is invalid"
    if len(errors) > 1:
        summary += f" (and {len(errors) - 1} more; see errors)"
    if len(errors) > MAX_LISTED_ERRORS:
        summary += f"; errors lists the first {MAX_LISTED_ERRORS} of {len(errors)}"
    return {"message": f"invalid request: {summary}", "errors": described}


def _describe_invalid_json(error: Mapping[str, Any], rule: str) -> dict[str, Any]:
    """Describe a body that does not parse: FastAPI puts the character offset in `loc`."""
    location = list(error.get("loc", ()))
    position = location[1] if len(location) > 1 and isinstance(location[1], int) else None
    context = error.get("ctx") or {}
    problem = str(context.get("error") or "decode error")
    where = f" at character {position}" if position is not None else ""
    return {
        "field": BODY,
        "rule": rule,
        "message": f"the request body is not valid JSON: {problem}{where}",
    }


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
