"""Query parameters: definitions in, validated wire values out (docs/protocol.md#parameters).

The server never fills defaults and rejects dynamic tokens, so the client must send every
defined parameter, already in the shape the server checks. This module turns the query's
``options.parameters`` into :class:`ParameterDefinition` objects and converts natural Python
values (``date``, ``datetime``, ``pandas.Timestamp``, ``numpy.datetime64``, ISO strings,
``(start, end)`` pairs, lists, numbers) into that shape, raising
:class:`~watch_pandas.errors.ParameterError` before anything is executed. It never renders SQL.

Decisions (each one tested in ``tests/test_params.py``):

* **text** takes ``str``; an ``int`` is accepted as ``str(int)``. Other types (float, bool,
  Decimal, None) are refused: their ``str()`` is rarely what the SQL wants, so the caller
  converts them explicitly. A saved default of ``None`` for a text parameter is sent as ``""``.
* **number** takes ``int``, finite ``float``, finite ``Decimal`` and numeric strings
  (``"50"``, ``"1e3"``). Integral values are sent as JSON integers of any size; a ``Decimal`` or
  numeric string that a float cannot hold exactly is sent as its exact numeric string (the
  server accepts it and inserts it verbatim). ``bool``, NaN and infinity are refused.
* **enum / query** take ``str``, or an ``int`` as ``str(int)``. A multi-value parameter takes a
  list, tuple, 1-D numpy array or pandas Series of those (a scalar becomes a one-element list;
  an empty list is refused; a set is refused because its order, and so the SQL text, is not
  stable); a list for a single-value parameter is refused. Query-based dropdown options come
  from a callback; without one the membership check is skipped (the server still checks).
* **dates** are sent in the web UI's formats: ``YYYY-MM-DD``, ``YYYY-MM-DD HH:mm``,
  ``YYYY-MM-DD HH:mm:ss``. A ``date`` given to a datetime parameter means midnight. A datetime
  given to a date parameter is accepted only at exactly midnight (a ``pandas.Timestamp`` of a
  day is common). Precision is never dropped silently: seconds given to a minute parameter, or
  fractions of a second given to a seconds parameter, are refused — round the value yourself or
  use the finer parameter type. A timezone-aware value is sent as its own wall time, without
  conversion (the web UI likewise sends browser wall time); an offset in an ISO string is
  treated the same way.
* **dynamic tokens** (``d_now``, ``d_last_7_days``...) follow the web UI
  (``DateParameter``/``DateRangeParameter``, moment.js in the default ``en`` locale): weeks start
  on **Sunday**; ``d_last_N_days``, ``d_last_12_months`` and ``d_last_N_years`` run from the start
  of the day N units ago to the **end of today** (v10 behaviour; master's UI ends at "now",
  which differs only for datetime ranges — end-of-day keeps the SQL, and so the server's cache,
  stable through the day); ``d_last_hour``/``8_hours``/``24_hours`` end at now. ``now``
  defaults to the local wall clock.
* Parameter types this module does not know are passed through unchanged (the server
  validates them), so a newer server does not make whole queries unusable.
"""

from __future__ import annotations

import difflib
import json
import math
import numbers
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol, TypeGuard

from watch_pandas._constants import PARAMETER_TYPES
from watch_pandas.errors import ParameterError

if TYPE_CHECKING:  # numpy is imported lazily, only when numpy input arrives
    import numpy as np

__all__ = [
    "MultiValues",
    "ParameterDefinition",
    "parse_definitions",
    "resolve_parameters",
    "to_wire",
    "resolve_dynamic",
    "cache_key",
    "collect_pairs",
    "placeholders",
    "adhoc_parameters",
    "adhoc_params_hint",
    "DYNAMIC_DATE_TOKENS",
    "DYNAMIC_RANGE_TOKENS",
    "DATE_TYPES",
    "RANGE_TYPES",
]

# Wire formats per type, as the web UI formats them (moment tokens in comments).
_SINGLE_DATE_FORMATS = {
    "date": "YYYY-MM-DD",
    "datetime-local": "YYYY-MM-DD HH:mm",
    "datetime-with-seconds": "YYYY-MM-DD HH:mm:ss",
}
_RANGE_TO_SINGLE = {
    "date-range": "date",
    "datetime-range": "datetime-local",
    "datetime-range-with-seconds": "datetime-with-seconds",
}
_DATE_LIKE_TYPES = frozenset(_SINGLE_DATE_FORMATS) | frozenset(_RANGE_TO_SINGLE)
# For UIs (the picker): the single date types, and each range type's single type.
DATE_TYPES = tuple(_SINGLE_DATE_FORMATS)
RANGE_TYPES = MappingProxyType(_RANGE_TO_SINGLE)
_OPTION_TYPES = frozenset({"enum", "query"})

DYNAMIC_DATE_TOKENS: tuple[str, ...] = ("d_now", "d_yesterday")
DYNAMIC_RANGE_TOKENS: tuple[str, ...] = (
    "d_today",
    "d_yesterday",
    "d_this_week",
    "d_this_month",
    "d_this_year",
    "d_last_week",
    "d_last_month",
    "d_last_year",
    "d_last_hour",
    "d_last_8_hours",
    "d_last_24_hours",
    "d_last_7_days",
    "d_last_14_days",
    "d_last_30_days",
    "d_last_60_days",
    "d_last_90_days",
    "d_last_12_months",
    "d_last_2_years",
    "d_last_3_years",
    "d_last_10_years",
)
_DYNAMIC_PREFIX = "d_"
_SUNDAY = 6  # datetime.weekday() of the first day of a week (moment's default "en" locale)
_VALUE_REPR_LIMIT = 80

_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_ISO_DATETIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?"
    r"(?:Z|[+-]\d{2}(?::?\d{2})?)?"
)


@dataclass(frozen=True)
class MultiValues:
    """How the server joins a multi-value list: ``prefix + v + suffix`` joined by ``separator``."""

    prefix: str = ""
    suffix: str = ""
    separator: str = ","


@dataclass(frozen=True)
class ParameterDefinition:
    """One entry of a query's ``options.parameters`` (docs/protocol.md#parameters)."""

    name: str
    title: str
    type: str
    default: object
    enum_options: tuple[str, ...] = ()
    query_id: int | None = None
    multi: MultiValues | None = None
    regex: str | None = None

    @classmethod
    def from_json(cls, obj: dict) -> ParameterDefinition:
        """Build a definition from the server's JSON object (tolerant of missing keys)."""
        if not isinstance(obj, Mapping) or not obj.get("name"):
            raise ParameterError(
                f"Invalid parameter definition {_short_repr(obj)}: it has no name.",
                value=obj,
                allowed='an object with at least "name" and "type"',
            )
        name = str(obj["name"])
        raw_options = obj.get("enumOptions")
        if isinstance(raw_options, str):
            options = tuple(raw_options.split("\n")) if raw_options else ()
        elif isinstance(raw_options, Sequence):
            options = tuple(str(option) for option in raw_options)
        else:
            options = ()
        raw_multi = obj.get("multiValuesOptions")
        multi = None
        if isinstance(raw_multi, Mapping):
            multi = MultiValues(
                prefix=raw_multi.get("prefix") or "",
                suffix=raw_multi.get("suffix") or "",
                separator=raw_multi.get("separator") or ",",
            )
        query_id = obj.get("queryId")
        return cls(
            name=name,
            title=str(obj.get("title") or name),
            type=str(obj.get("type") or "text"),
            default=obj.get("value"),
            enum_options=options,
            query_id=int(query_id) if query_id not in (None, "") else None,
            multi=multi,
            regex=obj.get("regex") or None,
        )

    @property
    def is_range(self) -> bool:
        """True for ``date-range``, ``datetime-range`` and ``datetime-range-with-seconds``."""
        return self.type in _RANGE_TO_SINGLE

    @property
    def is_multi(self) -> bool:
        """True for an enum or query dropdown that allows several values (sent as a list)."""
        return self.multi is not None and self.type in _OPTION_TYPES

    @property
    def is_date_like(self) -> bool:
        """True for every date, datetime and range type."""
        return self.type in _DATE_LIKE_TYPES

    @property
    def is_known_type(self) -> bool:
        """True when this module knows how to validate the type."""
        return self.type in PARAMETER_TYPES

    @property
    def dynamic_tokens(self) -> tuple[str, ...]:
        """The dynamic ``d_...`` values this parameter accepts (empty for non-date types)."""
        if self.is_range:
            return DYNAMIC_RANGE_TOKENS
        if self.type in _SINGLE_DATE_FORMATS:
            return DYNAMIC_DATE_TOKENS
        return ()

    def describe_allowed(self, options: Sequence[str] | None = None) -> str:
        """Say in words what this parameter accepts (``options`` overrides the dropdown list)."""
        kind = self.type
        if kind == "text":
            return "a string"
        if kind == "text-pattern":
            return f"a string fully matching the pattern {self.regex!r}"
        if kind == "number":
            return "a number (int, finite float, Decimal or a numeric string such as '50')"
        if kind in _OPTION_TYPES:
            if options is None and kind == "enum":
                options = self.enum_options
            if options is None:
                listing = f"a value of dropdown query {self.query_id}"
            else:
                listing = "one of " + _list_options(options)
            if self.is_multi:
                return f"a list of values, each {listing}"
            return listing
        if kind in _SINGLE_DATE_FORMATS:
            return f"{_describe_point(kind)}, or one of {', '.join(DYNAMIC_DATE_TOKENS)}"
        if kind in _RANGE_TO_SINGLE:
            point = _describe_point(_RANGE_TO_SINGLE[kind])
            return (
                f"a (start, end) pair or {{'start': ..., 'end': ...}} with start <= end, each "
                f"{point}; or one of {', '.join(DYNAMIC_RANGE_TOKENS)}"
            )
        return f"a value the server accepts for type {kind!r}"


def parse_definitions(raw: Iterable[dict]) -> list[ParameterDefinition]:
    """Parse a query's ``options.parameters`` list into definitions."""
    return [ParameterDefinition.from_json(obj) for obj in raw or ()]


def resolve_parameters(
    definitions: Sequence[ParameterDefinition],
    given: Mapping[str, object] | None = None,
    *,
    now: datetime | None = None,
    dropdown_options: Callable[[ParameterDefinition], Sequence[str]] | None = None,
    query_id: int | None = None,
    saved: Collection[str] = (),
) -> dict[str, object]:
    """Validate `given` against the definitions and return the wire `parameters` dict.

    The result holds EVERY defined parameter: given values converted to the wire shape, the
    rest from saved defaults with dynamic tokens resolved. Raises ParameterError(name=, value=,
    allowed=) before anything runs. ``dropdown_options`` is called (at most once per
    query-based parameter) for the options of a dropdown; ``query_id`` only feeds messages.
    ``saved`` names given values that come from the server's saved settings (a dashboard's
    shared default or static value), not from the caller: like saved defaults, they are
    formatted to the parameter's precision instead of refused for being finer.
    """
    given = as_params(given)
    now = now if now is not None else datetime.now()
    by_name = {definition.name: definition for definition in definitions}
    _check_names(given, by_name, query_id)
    return {
        definition.name: _resolve_one(
            definition,
            given,
            now=now,
            dropdown_options=dropdown_options,
            query_id=query_id,
            saved=saved,
        )
        for definition in definitions
    }


def as_params(given: object) -> dict[str, object]:
    """``params`` as a new dict (``None``: none given); anything but a mapping is refused."""
    if given is None:
        return {}
    if not isinstance(given, Mapping):
        raise ParameterError(
            "params must be a dict of parameter name → value (e.g. {'min_price': 5}), not "
            f"{type(given).__name__} {_short_repr(given)}.",
            value=given,
            allowed="a dict of parameter name → value",
        )
    return dict(given)


def check_dropdown_values(
    definitions: Sequence[ParameterDefinition],
    given: Mapping[str, object] | None,
    dropdown_options: Callable[[ParameterDefinition], Sequence[str]],
    *,
    query_id: int | None = None,
    saved: Collection[str] = (),
) -> None:
    """Check the values of query-based dropdowns against their options (``dropdown_options``
    is called once per such parameter), raising the ParameterError
    :func:`resolve_parameters` would raise with the same ``dropdown_options``.

    Called apart from :func:`resolve_parameters` so that the options, a request each, are
    fetched only when they are needed; the wire values do not depend on them.
    """
    given = as_params(given)
    for definition in definitions:
        if definition.type == "query" and definition.query_id:
            _resolve_one(
                definition,
                given,
                now=datetime.now(),  # not read: a dropdown value is no date
                dropdown_options=dropdown_options,
                query_id=query_id,
                saved=saved,
            )


def _resolve_one(
    definition: ParameterDefinition,
    given: Mapping[str, object],
    *,
    now: datetime,
    dropdown_options: Callable[[ParameterDefinition], Sequence[str]] | None,
    query_id: int | None,
    saved: Collection[str],
) -> object:
    """One parameter's wire value: given, or its saved default (see resolve_parameters)."""
    from_default = definition.name not in given
    value = definition.default if from_default else given[definition.name]
    if from_default and _is_unset(definition, value):
        if definition.type in ("text", "text-pattern") and value is None:
            value = ""
        else:
            raise _error(
                definition,
                value,
                "missing value: it has no saved default, so it must be given",
                definition.describe_allowed(),
                query_id,
            )
    options = None
    # No source query in the definition: no options to check here (the query's own
    # /dropdown would list the wrong ones); the server decides.
    if definition.type == "query" and dropdown_options is not None and definition.query_id:
        options = [str(option) for option in dropdown_options(definition)]
    return _convert(
        definition,
        value,
        now=now,
        query_options=options,
        query_id=query_id,
        from_default=from_default or definition.name in saved,
        source=None if from_default or definition.name not in saved else _SAVED_ELSEWHERE,
    )


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


def resolve_dynamic(
    token: str, definition: ParameterDefinition, *, now: datetime
) -> str | dict[str, str]:
    """Resolve a dynamic token (``d_yesterday``, ``d_last_7_days``...) at `now` for `definition`.

    Returns a formatted string for date types and ``{"start": ..., "end": ...}`` for ranges.
    """
    allowed_tokens = definition.dynamic_tokens
    if token not in allowed_tokens:
        if allowed_tokens:
            allowed = "one of " + ", ".join(allowed_tokens)
        else:
            allowed = "no dynamic values (only date parameters take them)"
        raise _error(
            definition,
            token,
            f"{token!r} is not a dynamic value for a {definition.type} parameter",
            allowed,
            None,
        )
    wall = _wall_time(now)
    if definition.is_range:
        start, end = _dynamic_range(token[len(_DYNAMIC_PREFIX) :], wall)
        single = _RANGE_TO_SINGLE[definition.type]
        return {"start": _format(start, single), "end": _format(end, single)}
    moment = wall if token == "d_now" else wall - timedelta(days=1)
    return _format(moment, definition.type)


def cache_key(wire: Mapping[str, object]) -> str:
    """A stable, canonical JSON text of wire parameters (sorted keys, no whitespace)."""
    return json.dumps(
        wire, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def collect_pairs(pairs: Iterable[tuple[str, object]]) -> dict[str, object]:
    """``NAME=VALUE`` pairs (command line, magics) → a ``params`` dict.

    A repeated NAME makes a list (multi-value parameters); ``NAME.start`` / ``NAME.end`` make a
    ``{"start", "end"}`` range.
    """
    params: dict[str, object] = {}
    for name, value in pairs:
        base, dot, part = name.rpartition(".")
        if dot and part in ("start", "end"):
            bounds = params.setdefault(base, {})
            if not isinstance(bounds, dict):
                raise ParameterError(
                    f"Parameter {base!r} is given both as a value and as a range.",
                    name=base,
                    value=value,
                    allowed=f"either {base}=VALUE or {base}.start=… {base}.end=…",
                )
            bounds[part] = value
        elif name in params:
            previous = params[name]
            params[name] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            params[name] = value
    return params


# --- conversion ---------------------------------------------------------------------------


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
    return value  # a type this module does not know: the server validates it


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
    if start > end:
        raise fail(f"the start {_format(start, single)} is after the end {_format(end, single)}")
    return {"start": _format(start, single), "end": _format(end, single)}


def _as_list_if_array(value: object) -> object:
    """A 1-D numpy array or pandas Series/Index (``df[col].unique()``) as a plain list."""
    if _is_array(value):
        return list(value)  # keeps numpy/pandas scalars (e.g. Timestamp) as they are
    return value


# --- dates -------------------------------------------------------------------------------


def _checked_point(
    value: object,
    kind: str,
    fail: Callable[..., ParameterError],
    *,
    role: str = "",
    lenient: bool = False,
) -> datetime:
    """Parse `value` as a wall-clock datetime and refuse precision `kind` would drop
    (``lenient``: allow it; the caller formats to `kind`'s precision, as the web UI does)."""
    where = f"the {role} " if role else ""
    moment, date_only, sub_microsecond = _parse_point(value, kind, fail, where)
    if date_only or lenient:
        return moment
    if kind == "date" and (moment.time() != time(0) or sub_microsecond):
        raise fail(
            f"{where}has a time of day but a date parameter takes a date only "
            "(pass value.date() if the day is what you mean)"
        )
    if kind == "datetime-local" and (moment.second or moment.microsecond or sub_microsecond):
        raise fail(
            f"{where}has seconds but this parameter keeps minutes only; round it yourself "
            "(value.replace(second=0, microsecond=0)) or use a datetime-with-seconds parameter"
        )
    if kind == "datetime-with-seconds" and (moment.microsecond or sub_microsecond):
        raise fail(
            f"{where}has a fraction of a second but this parameter keeps whole seconds; "
            "round it yourself (value.replace(microsecond=0))"
        )
    return moment


def _parse_point(
    value: object, kind: str, fail: Callable[..., ParameterError], where: str
) -> tuple[datetime, bool, bool]:
    """Return (naive wall datetime, was a plain date, had nanoseconds beyond microseconds)."""
    expected = _describe_point(kind)
    if type(value).__name__ == "NaTType":
        raise fail(f"{where}is NaT (not a time)")
    if isinstance(value, datetime):  # includes pandas.Timestamp
        nanos = bool(getattr(value, "nanosecond", 0))
        return _wall_time(value), False, nanos
    if isinstance(value, date):
        return datetime.combine(value, time(0)), True, False
    if _is_datetime64(value):
        return _parse_datetime64(value, fail, where)
    if isinstance(value, str):
        text = value.strip()
        match = _ISO_DATE.fullmatch(text)
        if match:
            year, month, day = (int(group) for group in match.groups())
            try:
                return datetime(year, month, day), True, False
            except ValueError:
                raise fail(f"{where}is not a real date; expected {expected}") from None
        match = _ISO_DATETIME.fullmatch(text)
        if match:
            *fields, seconds, fraction = match.groups()
            digits = (fraction or "").ljust(9, "0")
            y, mo, d, h, mi = (int(field) for field in fields)
            try:
                # seconds are optional in the format
                moment = datetime(y, mo, d, h, mi, int(seconds or 0), int(digits[:6]))
            except ValueError:
                raise fail(f"{where}is not a real date and time; expected {expected}") from None
            return moment, False, int(digits[6:]) != 0
        raise fail(f"{where}is not in a recognised format; expected {expected}")
    raise fail(f"{where}is a {type(value).__name__}; expected {expected}")


def _parse_datetime64(
    value: np.datetime64, fail: Callable[..., ParameterError], where: str
) -> tuple[datetime, bool, bool]:
    import numpy as np  # lazily: only reached for numpy input

    if np.isnat(value):
        raise fail(f"{where}is NaT (not a time)")
    unit = np.datetime_data(value.dtype)[0]
    as_micro = value.astype("datetime64[us]")
    moment = as_micro.item()
    if not isinstance(moment, datetime):
        raise fail(f"{where}is outside the years 1-9999")
    return moment, unit in ("Y", "M", "W", "D"), bool(as_micro != value)


def _wall_time(moment: datetime) -> datetime:
    """The naive wall-clock time of `moment` (tz-aware values keep their own zone's wall time)."""
    return datetime(
        moment.year,
        moment.month,
        moment.day,
        moment.hour,
        moment.minute,
        moment.second,
        moment.microsecond,
    )


def _format(moment: datetime, kind: str) -> str:
    day = f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
    if kind == "date":
        return day
    if kind == "datetime-local":
        return f"{day} {moment.hour:02d}:{moment.minute:02d}"
    return f"{day} {moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"


def _describe_point(kind: str) -> str:
    fmt = _SINGLE_DATE_FORMATS[kind]
    if kind == "date":
        return f"a date as {fmt} (a date, a midnight datetime or an ISO string)"
    return f"a date and time as {fmt} (a datetime, Timestamp, date or ISO string)"


def _dynamic_range(name: str, now: datetime) -> tuple[datetime, datetime]:
    today = datetime.combine(now.date(), time(0))
    day = timedelta(days=1)
    end_of_today = today + day - timedelta(microseconds=1)

    def end_of(start: datetime, *, days: int = 0, months: int = 0) -> datetime:
        return _add_months(start, months) + timedelta(days=days) - timedelta(microseconds=1)

    if name == "today":
        return today, end_of_today
    if name == "yesterday":
        return today - day, today - timedelta(microseconds=1)
    week_start = today - timedelta(days=(now.weekday() - _SUNDAY) % 7)
    month_start = today.replace(day=1)
    year_start = today.replace(month=1, day=1)
    if name == "this_week":
        return week_start, end_of(week_start, days=7)
    if name == "this_month":
        return month_start, end_of(month_start, months=1)
    if name == "this_year":
        return year_start, end_of(year_start, months=12)
    if name == "last_week":
        return week_start - 7 * day, week_start - timedelta(microseconds=1)
    if name == "last_month":
        return _add_months(month_start, -1), month_start - timedelta(microseconds=1)
    if name == "last_year":
        return _add_months(year_start, -12), year_start - timedelta(microseconds=1)
    hours = {"last_hour": 1, "last_8_hours": 8, "last_24_hours": 24}
    if name in hours:
        return now - timedelta(hours=hours[name]), now
    match = re.fullmatch(r"last_(\d+)_(days|months|years)", name)
    if match:
        count, unit = int(match.group(1)), match.group(2)
        if unit == "days":
            start = today - count * day
        else:
            start = _add_months(today, -count * (12 if unit == "years" else 1))
        return start, end_of_today
    raise AssertionError(f"unhandled dynamic range {name!r}")  # DYNAMIC_RANGE_TOKENS guards


def _add_months(moment: datetime, months: int) -> datetime:
    """Shift by whole months, clamping the day to the month's end (as moment.js does)."""
    index = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    next_month = date(year + (month == 12), month % 12 + 1, 1)
    last_day = (next_month - timedelta(days=1)).day
    return moment.replace(year=year, month=month, day=min(moment.day, last_day))


# --- names and errors ----------------------------------------------------------------------


def _check_names(
    given: Mapping[str, object], by_name: Mapping[str, ParameterDefinition], query_id: int | None
) -> None:
    known = ", ".join(repr(name) for name in by_name) or "none (the query takes no parameters)"
    for name, value in given.items():
        if name in by_name:
            continue
        where = f" of query {query_id}" if query_id is not None else ""
        hint = difflib.get_close_matches(str(name), list(by_name), n=1)
        suggestion = f" Did you mean {hint[0]!r}?" if hint else ""
        raise ParameterError(
            f"Unknown parameter {_short_repr(name)}{where}.{suggestion} Known parameters: {known}.",
            name=str(name),
            value=value,
            allowed=f"one of the defined names: {known}",
            query_id=query_id,
        )


def _is_unset(definition: ParameterDefinition, value: object) -> bool:
    if value is None:
        return True
    if definition.type in ("text", "text-pattern"):
        return False  # "" is a legitimate text value
    return value == "" or (isinstance(value, (list, tuple)) and not value)


# A value the server saved elsewhere (a dashboard's shared default or static value).
_SAVED_ELSEWHERE = "saved dashboard value"


def _error(
    definition: ParameterDefinition,
    value: object,
    problem: str,
    allowed: str,
    query_id: int | None,
    *,
    from_default: bool = False,
    source: str | None = None,
) -> ParameterError:
    where = f" of query {query_id}" if query_id is not None else ""
    source = source or ("saved default" if from_default else "value")
    return ParameterError(
        f"Invalid {source} for parameter {definition.name!r}{where} ({definition.type}): "
        f"{problem}. Given: {_short_repr(value)}. Allowed: {allowed}.",
        name=definition.name,
        value=value,
        allowed=allowed,
        query_id=query_id,
    )


def _short_repr(value: object) -> str:
    text = repr(value)
    if len(text) > _VALUE_REPR_LIMIT:
        text = text[: _VALUE_REPR_LIMIT - 3] + "..."
    return text


def _list_options(options: Sequence[str], limit: int = 20) -> str:
    shown = ", ".join(repr(option) for option in list(options)[:limit])
    more = len(options) - limit
    return shown + (f" (and {more} more)" if more > 0 else "") if options else "(no options)"


# --- ad-hoc SQL (no definitions: the server substitutes whatever it is sent) ---------------
# The server renders with Mustache. A tag's name is whatever stands between the braces, trimmed
# (the web UI allows spaces and any letters), and a dotted name "{{ p.foo }}" reads key "foo"
# of the value of "p". Before running, the server requires a value for every "{{ name }}" and
# section "{{# name }}" ("Missing parameter value for: ..."); a literal "{{{ name }}}" or
# "{{& name }}" and an inverted section "{{^ name }}" render as empty text without one.
# "{{! ... }}" is a comment; closing tags, partials and delimiter changes name no value.
_TAG = re.compile(
    r"\{\{\s*(?:\{\s*(?P<raw>.+?)\s*\}|(?P<kind>[!&#^/>=]?)\s*(?P<key>[\s\S]+?))\s*\}\}"
)
_REQUIRED_KINDS = ("", "#")
_VALUE_KINDS = ("", "#", "&", "^")
_RANGE_PARTS = ("start", "end")


def _adhoc_allowed(top: str) -> str:
    """What an ad-hoc parameter may be, shown with its own name."""
    return (
        f"a string, finite number, date, datetime, list, a dict for {{{{ {top}.key }}}}, "
        f"or (start, end) for {{{{ {top}.start }}}}"
    )


@dataclass(frozen=True)
class _Tag:
    path: tuple[str, ...]  # ("p", "foo") for {{ p.foo }}
    required: bool


def placeholders(sql: str) -> list[str]:
    """Top-level names of the value tags in ``sql`` (``{{ p.start }}`` is ``p``), in order."""
    return list(dict.fromkeys(tag.path[0] for tag in _tags(sql)))


def _tags(sql: str) -> list[_Tag]:
    found = []
    for match in _TAG.finditer(sql):
        raw, kind = match.group("raw"), match.group("kind")
        if raw is None and kind not in _VALUE_KINDS:
            continue
        name = raw if raw is not None else match.group("key")
        if name != ".":  # "{{ . }}" is the current item inside a section, not a parameter
            found.append(_Tag(tuple(name.split(".")), raw is None and kind in _REQUIRED_KINDS))
    return found


def adhoc_parameters(sql: str, given: Mapping[str, object] | None) -> dict[str, object]:
    """Wire values for ad-hoc SQL: every required placeholder must be given, and only names
    the SQL uses.

    A name read as ``{{ p.key }}`` takes a dict (``NAME.KEY`` pairs from the command line
    or ``%%watch`` are nested the same way); one read only as ``{{ p.start }}``/``{{ p.end }}``
    also takes a ``(start, end)`` pair. Any other sequence becomes a list of strings, which the
    server joins with ``,`` *unquoted* (quote the items yourself for text, or use a saved
    query's multi-value parameter). Dates become ``YYYY-MM-DD`` (naive datetimes at midnight
    too), other datetimes ``YYYY-MM-DD HH:MM:SS[.ffffff]``. NaN, infinity, NaT and None have
    no SQL text and are refused.
    """
    tags = _tags(sql)
    given = _nest_dotted(as_params(given), {tag.path[0] for tag in tags})
    names = placeholders(sql)
    _check_required([tag for tag in tags if tag.path[0] not in given and tag.required])
    unknown = [n for n in given if n not in names]
    if unknown:
        raise ParameterError(
            f"Parameter(s) {', '.join(map(repr, unknown))} do not appear in the SQL "
            f"(placeholders: {', '.join(map(repr, names)) or 'none'}).",
            name=unknown[0],
            value=given[unknown[0]],
            allowed=", ".join(names) or "no parameters",
        )
    parts: dict[str, set[str]] = {}
    for tag in tags:
        if len(tag.path) > 1:
            parts.setdefault(tag.path[0], set()).add(tag.path[1])
    wire = {name: _adhoc_value(name, value, parts.get(name)) for name, value in given.items()}
    _check_required([tag for tag in tags if tag.required and not _has_path(wire, tag.path)])
    return wire


def _nest_dotted(given: dict[str, object], names: Collection[str]) -> dict[str, object]:
    """``{"p.foo": 1}`` → ``{"p": {"foo": 1}}`` when the SQL reads ``p`` (a Mustache name
    with a dot is always a path, so the flat key could never be rendered)."""
    for key in [k for k in given if isinstance(k, str) and "." in k and k not in names]:
        top, *rest = key.split(".")
        if top not in names:
            continue
        node = given.setdefault(top, {})
        for part in rest[:-1]:
            node = node.setdefault(part, {}) if isinstance(node, dict) else node
        if not isinstance(node, dict):
            raise ParameterError(
                f"Parameter {top!r} is given both as a value and as {key!r}.",
                name=top,
                value=given[key],
                allowed=f"either {top}=VALUE or {key}=VALUE",
            )
        node[rest[-1]] = given.pop(key)
    return given


def _has_path(values: Mapping[str, object], path: Sequence[str]) -> bool:
    node: object = values
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return False
        node = node[part]
    return True


def _check_required(missing: Sequence[_Tag]) -> None:
    if not missing:
        return
    names = list(dict.fromkeys(".".join(tag.path) for tag in missing))
    raise ParameterError(
        f"The SQL needs a value for {', '.join(map(repr, names))}; {adhoc_params_hint(names)}.",
        name=names[0],
        allowed="a value for every {{ name }} in the SQL",
    )


def adhoc_params_hint(names: Sequence[str]) -> str:
    """What to pass for the ad-hoc placeholders ``names``: ``['p.foo', 'x']`` →
    ``"pass params={'p': {'foo': ...}, 'x': ...}"``."""
    shown = []
    for name in names:
        top, *rest = name.split(".")
        inner = "..."
        for part in reversed(rest):
            inner = f"{{{part!r}: {inner}}}"
        shown.append(f"{top!r}: {inner}")
    return f"pass params={{{', '.join(shown)}}}"


def _adhoc_value(name: str, value: object, parts: set[str] | None) -> object:
    if parts and not isinstance(value, Mapping):
        if parts <= set(_RANGE_PARTS) and isinstance(value, (tuple, list)) and len(value) == 2:
            return {"start": _adhoc_scalar(name, value[0]), "end": _adhoc_scalar(name, value[1])}
        if parts <= set(_RANGE_PARTS):
            raise _adhoc_error(name, value, "the SQL uses it as a range: give (start, end)")
        keys = ", ".join(f"{part!r}: ..." for part in sorted(parts))
        raise _adhoc_error(name, value, f"the SQL reads keys of it: give a dict {{{keys}}}")
    return _adhoc_tree(name, value)


def _adhoc_tree(name: str, value: object) -> object:
    if isinstance(value, Mapping):
        if not all(isinstance(key, str) for key in value):
            raise _adhoc_error(name, value, "a dict's keys are names in the SQL: use strings")
        return {key: _adhoc_tree(f"{name}.{key}", item) for key, item in value.items()}
    if isinstance(value, (set, frozenset)):
        raise _adhoc_error(name, value, "a set has no order (the SQL text would vary); use a list")
    if isinstance(value, (list, tuple)) or _is_array(value):
        items = [_adhoc_scalar(f"{name}[{i}]", item) for i, item in enumerate(value)]
        return [str(item) for item in items]
    return _adhoc_scalar(name, value)


def _adhoc_scalar(name: str, value: object) -> object:
    if type(value).__name__ == "NaTType" or _is_datetime64(value):
        return _adhoc_datetime64(name, value)
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # numpy scalars
        value = value.item()
    if isinstance(value, bool):
        raise _adhoc_error(name, value, "a bool is ambiguous in SQL; pass 1/0 or 'true'/'false'")
    if value is None or type(value).__name__ == "NAType":
        raise _adhoc_error(name, value, f"{value} has no SQL text; pass 'NULL' if that is meant")
    if isinstance(value, (float, Decimal)):
        finite = value.is_finite() if isinstance(value, Decimal) else math.isfinite(value)
        if not finite:  # JSON has no NaN, and SQL has no text for it
            raise _adhoc_error(
                name, value, "NaN and infinity cannot be sent; pass a finite number, or 'NULL'"
            )
        return str(value) if isinstance(value, Decimal) else value
    if isinstance(value, (str, int)):
        return value
    if isinstance(value, datetime):
        if value.time() == time() and value.tzinfo is None and not getattr(value, "nanosecond", 0):
            return value.date().isoformat()  # pd.Timestamp("2024-02-01") means a day
        # isoformat keeps a four-digit year (strftime's %Y drops the zeros of 0999)
        return value.replace(tzinfo=None).isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    kind = type(value).__name__
    article = "an" if kind[:1].lower() in "aeiou" else "a"
    raise _adhoc_error(name, value, f"cannot send {article} {kind}")


def _is_datetime64(value: object) -> TypeGuard[np.datetime64]:
    return type(value).__module__ == "numpy" and type(value).__name__ == "datetime64"


def _adhoc_datetime64(name: str, value: object) -> object:
    """A ``numpy.datetime64`` (or NaT) with all its digits (``.item()`` gives an int for ns)."""
    import pandas as pd  # lazily: only reached for numpy/pandas input

    try:
        moment = pd.Timestamp(value)
    except (ValueError, OverflowError):
        raise _adhoc_error(name, value, "is outside the dates pandas can hold") from None
    if moment is pd.NaT:
        raise _adhoc_error(name, value, "NaT (not a time) has no SQL text")
    return _adhoc_scalar(name, moment)


class _Array(Protocol):
    """A 1-D numpy array or pandas Series/Index, as far as parameters use one."""

    ndim: int

    def tolist(self) -> list[Any]: ...

    def __iter__(self) -> Any: ...


def _is_array(value: object) -> TypeGuard[_Array]:
    return hasattr(value, "tolist") and getattr(value, "ndim", 0) == 1


def _adhoc_error(path: str, value: object, problem: str) -> ParameterError:
    """The refusal of the value at ``path`` (``p``, ``p.a`` or ``p[1]``) of parameter ``p``."""
    top = path.split(".")[0].split("[")[0]
    return ParameterError(
        f"Parameter {path!r} of the SQL: {problem}. Given: {_short_repr(value)}. "
        f"Allowed: {_adhoc_allowed(top)}.",
        name=top,
        value=value,
        allowed=_adhoc_allowed(top),
    )
