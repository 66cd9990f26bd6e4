"""One value → its wire shape, per parameter type (text, number, dropdowns, dates, ranges)."""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation

from ..errors import ParameterError
from ._common import (
    _DYNAMIC_PREFIX,
    _OPTION_TYPES,
    _RANGE_TO_SINGLE,
    _SINGLE_DATE_FORMATS,
    _error,
    _is_array,
    _short_repr,
)
from ._dates import _checked_point, _format, _parse_point, end_of_day
from ._definitions import ParameterDefinition
from ._dynamic import resolve_dynamic


def to_wire(
    definition: ParameterDefinition,
    value: object,
    *,
    now: datetime | None = None,
    query_options: Sequence[str] | None = None,
    query_id: int | None = None,
) -> object:
    """Convert one value to its wire shape for `definition`, validating it.

    ``query_options`` are the dropdown's values for a query-based parameter (no membership
    check when None); ``query_id`` only feeds error messages.
    """
    return _convert(
        definition,
        value,
        now=now if now is not None else datetime.now(),
        query_options=None if query_options is None else [str(o) for o in query_options],
        query_id=query_id,
        from_default=False,
    )


def _convert(
    definition: ParameterDefinition,
    value: object,
    *,
    now: datetime,
    query_options: Sequence[str] | None,
    query_id: int | None,
    from_default: bool,
    source: str | None = None,
) -> object:
    def fail(problem: str, allowed: str | None = None) -> ParameterError:
        return _error(
            definition,
            value,
            problem,
            allowed if allowed is not None else definition.describe_allowed(query_options),
            query_id,
            from_default=from_default,
            source=source,
        )

    kind = definition.type
    if value is None and kind not in ("text", "text-pattern"):
        raise fail("None is not a value (leave the name out to use the saved default)")
    if kind in ("text", "text-pattern"):
        return _convert_text(definition, value, fail)
    if kind == "number":
        return _convert_number(value, fail)
    if kind in _OPTION_TYPES:
        options = definition.enum_options if kind == "enum" else query_options
        return _convert_option(definition, value, options, fail)
    if kind in _SINGLE_DATE_FORMATS or kind in _RANGE_TO_SINGLE:
        if isinstance(value, str) and value.startswith(_DYNAMIC_PREFIX):
            try:
                return resolve_dynamic(value, definition, now=now)
            except ParameterError:
                raise fail(f"{value!r} is not a dynamic value for a {kind} parameter") from None
        # A saved default is sent as the web UI sends it: formatted to the parameter's
        # precision (the user never typed it, so dropping its seconds is not a surprise).
        if kind in _SINGLE_DATE_FORMATS:
            return _format(_checked_point(value, kind, fail, lenient=from_default), kind)
        return _convert_range(definition, value, fail, lenient=from_default)
    return value  # a type this package does not know: the server validates it


def _convert_text(
    definition: ParameterDefinition, value: object, fail: Callable[..., ParameterError]
) -> str:
    if value is None:
        raise fail("None is not a value; pass '' for an empty string")
    if isinstance(value, bool) or not isinstance(value, (str, numbers.Integral)):
        raise fail(
            f"a {definition.type} parameter takes a str, not {type(value).__name__} "
            "(convert it with str() if that is really what the SQL should get)"
        )
    text = str(value) if isinstance(value, str) else str(int(value))  # numpy str/int as str
    if definition.type == "text-pattern" and definition.regex:
        try:
            matches = re.fullmatch(definition.regex, text) is not None
        except re.error as exc:
            problem = f"the saved pattern {definition.regex!r} is not a valid regex ({exc})"
            raise fail(problem) from None
        if not matches:
            raise fail("the value does not fully match the parameter's pattern")
    return text


def _convert_number(value: object, fail: Callable[..., ParameterError]) -> int | float | str:
    if isinstance(value, bool):
        raise fail("a bool is not a number here (pass 1 or 0 if that is meant)")
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, float) or (
        isinstance(value, numbers.Real) and not isinstance(value, Decimal)
    ):
        number = float(value)
        if not math.isfinite(number):
            raise fail("NaN and infinity cannot be sent as a number")
        return number
    if isinstance(value, str):
        try:
            value = Decimal(value.strip())
        except InvalidOperation:
            raise fail("the string is not a number") from None
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise fail("NaN and infinity cannot be sent as a number")
        if value == value.to_integral_value():
            return int(value)
        as_float = float(value)
        return as_float if Decimal(repr(as_float)) == value else str(value)
    raise fail(f"a number parameter takes a number, not {type(value).__name__}")


def _convert_option(
    definition: ParameterDefinition,
    value: object,
    options: Sequence[str] | None,
    fail: Callable[..., ParameterError],
) -> str | list[str]:
    def one(item: object) -> str:
        if isinstance(item, bool) or not isinstance(item, (str, numbers.Integral)):
            raise fail(f"{_short_repr(item)} is a {type(item).__name__}; options are strings")
        text = str(item) if isinstance(item, str) else str(int(item))  # numpy str/int as str
        if options is not None and text not in options:
            raise fail(f"{text!r} is not one of the options")
        return text

    value = _as_list_if_array(value)
    if isinstance(value, (list, tuple)):
        if not definition.is_multi:
            raise fail("this parameter takes a single value, not a list")
        if not value:
            raise fail("an empty list selects nothing; give at least one value")
        return [one(item) for item in value]
    if isinstance(value, (set, frozenset, dict)):
        raise fail(f"a {type(value).__name__} has no order; pass a list")
    converted = one(value)
    return [converted] if definition.is_multi else converted


def _convert_range(
    definition: ParameterDefinition,
    value: object,
    fail: Callable[..., ParameterError],
    *,
    lenient: bool = False,
) -> dict[str, str]:
    single = _RANGE_TO_SINGLE[definition.type]
    value = _as_list_if_array(value)
    if isinstance(value, Mapping):
        if set(value) != {"start", "end"}:
            raise fail("a range dict needs exactly the keys 'start' and 'end'")
        start_value, end_value = value["start"], value["end"]
    elif isinstance(value, (list, tuple)) and len(value) == 2:
        start_value, end_value = value
    else:
        raise fail("a range is a (start, end) pair, a {'start', 'end'} dict or a d_... token")
    start = _checked_point(start_value, single, fail, role="start", lenient=lenient)
    end = _checked_point(end_value, single, fail, role="end", lenient=lenient)
    if single != "date" and _parse_point(end_value, single, fail, "the end ")[1]:
        # A day given as a datetime range's end covers that whole day: ends are inclusive,
        # as the web UI's ranges are (docs/parameters.md#ranges).
        end = end_of_day(end, single)
    if start > end:
        raise fail(f"the start {_format(start, single)} is after the end {_format(end, single)}")
    return {"start": _format(start, single), "end": _format(end, single)}


def _as_list_if_array(value: object) -> object:
    """A 1-D numpy array or pandas Series/Index (``df[col].unique()``) as a plain list."""
    if _is_array(value):
        return list(value)  # keeps numpy/pandas scalars (e.g. Timestamp) as they are
    return value
