"""Parameter definitions and their resolution: the query's saved definitions in, every
parameter's wire value out (types converted, defaults filled, dropdowns checked)."""

from __future__ import annotations

import json
import math
import numbers
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from watch_pandas._constants import PARAMETER_TYPES
from watch_pandas.errors import ParameterError

from ._common import (
    _DATE_LIKE_TYPES,
    _DYNAMIC_PREFIX,
    _OPTION_TYPES,
    _RANGE_TO_SINGLE,
    _SAVED_ELSEWHERE,
    _SINGLE_DATE_FORMATS,
    DYNAMIC_DATE_TOKENS,
    DYNAMIC_RANGE_TOKENS,
    _check_names,
    _error,
    _is_array,
    _is_unset,
    _list_options,
    _short_repr,
)
from ._dates import _checked_point, _describe_point, _dynamic_range, _format, _wall_time

if TYPE_CHECKING:  # numpy is imported lazily, only when numpy input arrives
    pass


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
