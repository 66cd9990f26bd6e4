"""Splitting a date or datetime range into consecutive parameter ranges (for sweeps)."""

from __future__ import annotations

from datetime import time, timedelta
from typing import Literal

from ..errors import ParameterError
from ._dates import _checked_point, _format, _parse_point, end_of_day

Precision = Literal["day", "minute", "second"]

# precision -> (the single-point parameter type it formats as, the step before the next part)
_PRECISIONS = {
    "day": ("date", timedelta(days=1)),
    "minute": ("datetime-local", timedelta(minutes=1)),
    "second": ("datetime-with-seconds", timedelta(seconds=1)),
}
_FREQ_FORM = (
    "a pandas frequency string such as 'MS' (month starts), 'W' (weeks from Sunday), 'D' "
    "(days), '7D' or 'h' (hours, datetime ranges only)"
)


def date_ranges(
    start: object, end: object, freq: str, *, precision: Precision | None = None
) -> list[dict[str, str]]:
    """Split ``start``..``end`` (both inclusive) into consecutive ranges at ``freq`` boundaries.

    ``freq`` is a pandas frequency string (``"MS"``, ``"W"``, ``"D"``, ``"7D"``, ``"h"``...):
    parts begin at ``start`` and at every boundary after it; each part ends just before the
    next begins, inclusive as the web UI's ranges are (``2024-01-01``..``2024-01-31``, then
    ``2024-02-01``..). ``start``/``end`` are dates, datetimes, Timestamps or ISO strings.
    ``precision`` is ``"day"`` (date-range parameters), ``"minute"`` (datetime-range) or
    ``"second"`` (datetime-range-with-seconds); by default ``"day"`` when both ends are dates
    (or midnights, as a ``Timestamp`` of a day is), else ``"minute"``. Returns
    ``{"start", "end"}`` dicts in the parameter's wire format, which :func:`read_watch_query`
    and :func:`read_watch_sweep` accept as range values.
    """
    if precision is not None and precision not in _PRECISIONS:
        raise ParameterError(
            f"precision must be 'day', 'minute' or 'second' (or None to infer it), not "
            f"{precision!r}.",
            value=precision,
            allowed="'day', 'minute', 'second'",
        )
    offset = _offset(freq)

    def fail(why: str) -> ParameterError:
        return ParameterError(f"date_ranges: {why}.", value=(start, end), allowed=_FREQ_FORM)

    if precision is None:
        dates_only = all(
            _parse_point(value, "date", fail, f"the {role} ")[0].time() == time(0)
            for value, role in ((start, "start"), (end, "end"))
        )
        precision = "day" if dates_only else "minute"
    kind, step = _PRECISIONS[precision]
    first = _checked_point(start, kind, fail, role="start")
    last = _checked_point(end, kind, fail, role="end")
    if precision != "day" and _parse_point(end, kind, fail, "the end ")[1]:
        last = end_of_day(last, kind)  # a day as the end covers the whole day (inclusive)
    if first > last:
        raise fail(f"the start {_format(first, kind)} is after the end {_format(last, kind)}")
    import pandas as pd  # lazily: only this helper needs it

    boundaries = [first]
    for moment in pd.date_range(first, last, freq=offset):
        point = moment.to_pydatetime()
        if point > first:
            boundaries.append(point)
    if precision == "day" and any(b.time() != time(0) for b in boundaries):
        raise ParameterError(
            f"date_ranges: freq {freq!r} is finer than a day, so its parts would not be whole "
            "days; use 'D' or coarser for date ranges, or datetimes with precision='minute'.",
            value=freq,
            allowed=_FREQ_FORM,
        )
    ends = [b - step for b in boundaries[1:]] + [last]
    return [
        {"start": _format(a, kind), "end": _format(b, kind)}
        for a, b in zip(boundaries, ends, strict=True)
    ]


def _offset(freq: object) -> object:
    """``freq`` as a pandas offset; ParameterError naming the expected form if it is none."""
    if isinstance(freq, str):
        import pandas as pd

        try:
            return pd.tseries.frequencies.to_offset(freq)
        except ValueError:
            pass
    raise ParameterError(
        f"date_ranges: freq must be {_FREQ_FORM}, not {freq!r}.", value=freq, allowed=_FREQ_FORM
    )
