"""Dynamic date values (``d_now``, ``d_last_7_days``...) resolved as the web UI resolves them."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

from ._common import _DYNAMIC_PREFIX, _RANGE_TO_SINGLE, _error
from ._dates import _format, _wall_time
from ._definitions import ParameterDefinition

_SUNDAY = 6  # datetime.weekday() of the first day of a week (moment's default "en" locale)


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
