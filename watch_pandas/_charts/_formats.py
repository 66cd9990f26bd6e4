"""The web UI's value formats: numeral.js number formats (``"$0,0.00"``, ``"0[.]00"``,
``"0.0%"``, ``"0.0a"``) and moment.js date formats (``"DD/MM/YYYY HH:mm"``), the common
forms (docs/charts.md#formats)."""

from __future__ import annotations

import math
import re
from typing import Any

import pandas as pd

_CORE = re.compile(r"[0#,]*(?:\[?\.\]?[0#\[\]]*)?")
_ABBREVIATIONS = ((1e12, "t"), (1e9, "b"), (1e6, "m"), (1e3, "k"))


def format_number(value: Any, fmt: str | None) -> str:
    """``value`` written as numeral.js writes it with ``fmt``; non-numbers as text."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return ""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            value = float(value)
        except (TypeError, ValueError):
            return str(value)
    if not fmt:
        return str(value)
    percent = "%" in fmt
    abbreviate = "a" in fmt
    body = fmt.replace("%", "").replace("a", "")
    start = next((i for i, ch in enumerate(body) if ch in "0#[.,"), len(body))
    match = _CORE.match(body, start)
    core = match.group(0) if match else ""
    prefix, suffix = body[:start], body[start + len(core) :]
    number = float(value) * (100 if percent else 1)
    unit = ""
    if abbreviate:
        for size, letter in _ABBREVIATIONS:
            if abs(number) >= size:
                number, unit = number / size, letter
                break
    integer, _, decimals = core.partition(".")
    optional_point = integer.endswith("[") and decimals.startswith("]")
    decimals = decimals.lstrip("]")
    fixed = decimals.split("[")[0].count("0")
    optional = decimals.count("0") - fixed
    text = f"{abs(number):{',' if ',' in integer else ''}.{fixed + optional}f}"
    if optional or optional_point:
        whole, _, frac = text.partition(".")
        frac = frac[:fixed] + frac[fixed:].rstrip("0")
        if optional_point and not frac.strip("0"):
            frac = ""
        text = f"{whole}.{frac}" if frac else whole
    sign = "-" if number < 0 and float(text.replace(",", "") or 0) != 0 else ""
    return f"{sign}{prefix}{text}{unit}{'%' if percent else ''}{suffix}"


_DATE_TOKENS = re.compile(
    r"\[[^\]]*\]|YYYY|YY|MMMM|MMM|MM|M|DD|D|dddd|ddd|HH|H|hh|h|mm|m|ss|s|SSS|A|a|Z"
)


def format_date(value: Any, fmt: str | None) -> str:
    """``value`` (a date, datetime or text) written as moment.js writes it with ``fmt``."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError):
        return str(value)
    if stamp is pd.NaT:
        return ""
    if not fmt:
        return stamp.isoformat()
    hour12 = stamp.hour % 12 or 12
    tokens = {
        "YYYY": f"{stamp.year:04d}",
        "YY": f"{stamp.year % 100:02d}",
        "MMMM": stamp.strftime("%B"),
        "MMM": stamp.strftime("%b"),
        "MM": f"{stamp.month:02d}",
        "M": str(stamp.month),
        "DD": f"{stamp.day:02d}",
        "D": str(stamp.day),
        "dddd": stamp.strftime("%A"),
        "ddd": stamp.strftime("%a"),
        "HH": f"{stamp.hour:02d}",
        "H": str(stamp.hour),
        "hh": f"{hour12:02d}",
        "h": str(hour12),
        "mm": f"{stamp.minute:02d}",
        "m": str(stamp.minute),
        "ss": f"{stamp.second:02d}",
        "s": str(stamp.second),
        "SSS": f"{stamp.microsecond // 1000:03d}",
        "A": "PM" if stamp.hour >= 12 else "AM",
        "a": "pm" if stamp.hour >= 12 else "am",
        "Z": stamp.strftime("%z") or "+00:00",
    }

    def token(match: re.Match[str]) -> str:
        text = match.group(0)
        return text[1:-1] if text.startswith("[") else tokens[text]

    return _DATE_TOKENS.sub(token, fmt)
