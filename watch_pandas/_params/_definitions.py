"""Parameter definitions: a query's ``options.parameters`` as :class:`ParameterDefinition`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from .._constants import PARAMETER_TYPES
from ..errors import ParameterError
from ._common import (
    _DATE_LIKE_TYPES,
    _OPTION_TYPES,
    _RANGE_TO_SINGLE,
    _SINGLE_DATE_FORMATS,
    DYNAMIC_DATE_TOKENS,
    DYNAMIC_RANGE_TOKENS,
    _list_options,
    _short_repr,
)
from ._dates import _describe_point


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
        """True when this package knows how to validate the type."""
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
