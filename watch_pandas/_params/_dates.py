"""Date, datetime and range points: parsing what callers give, refusing dropped precision,
formatting to the web UI's wire formats."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING

from ..errors import ParameterError
from ._common import _SINGLE_DATE_FORMATS, _is_datetime64

if TYPE_CHECKING:  # numpy is imported lazily, only when numpy input arrives
    import numpy as np

_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_ISO_DATETIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?"
    r"(?:Z|[+-]\d{2}(?::?\d{2})?)?"
)


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


def end_of_day(moment: datetime, kind: str) -> datetime:
    """The last moment of ``moment``'s day that a ``kind`` parameter can hold (23:59 for
    minutes, 23:59:59 for seconds): an inclusive end given as a day."""
    step = timedelta(seconds=1) if kind == "datetime-with-seconds" else timedelta(minutes=1)
    return datetime.combine(moment.date(), time(0)) + timedelta(days=1) - step


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
