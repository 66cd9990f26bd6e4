"""The parameter type tables, the dynamic date tokens and the helpers every module here shares:
refusal messages, short reprs and recognising numpy/pandas input."""

from __future__ import annotations

from collections.abc import Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol, TypeGuard

from ..errors import ParameterError

if TYPE_CHECKING:  # numpy is imported lazily, only when numpy input arrives
    import numpy as np

    from ._definitions import ParameterDefinition

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
_VALUE_REPR_LIMIT = 80


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


def _is_datetime64(value: object) -> TypeGuard[np.datetime64]:
    return type(value).__module__ == "numpy" and type(value).__name__ == "datetime64"


class _Array(Protocol):
    """A 1-D numpy array or pandas Series/Index, as far as parameters use one."""

    ndim: int

    def tolist(self) -> list[Any]: ...

    def __iter__(self) -> Any: ...


def _is_array(value: object) -> TypeGuard[_Array]:
    return hasattr(value, "tolist") and getattr(value, "ndim", 0) == 1
