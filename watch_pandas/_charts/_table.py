"""TABLE: the columns in their saved order, hidden ones left out, titled and formatted by
their numeral.js / moment.js formats, as a pandas Styler (the values stay numbers)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._formats import format_date, format_number
from ._series import cell

if TYPE_CHECKING:
    import pandas as pd

    from ..models import Visualization


def _formatter(column: dict[str, Any]) -> Callable[[Any], str]:
    shown = column.get("displayAs") or "string"
    null = column.get("nullValue", "null")
    booleans = column.get("booleanValues") or ["false", "true"]

    def show(value: Any) -> str:
        value = cell(value)
        if value is None:
            return str(null)
        if shown == "number":
            return format_number(value, column.get("numberFormat"))
        if shown == "datetime":
            return format_date(value, column.get("dateTimeFormat"))
        if shown == "boolean" and isinstance(value, bool):
            return str(booleans[int(value)])
        return str(value)

    return show


def draw_table(visualization: Visualization, frame: pd.DataFrame) -> object:
    """The frame itself when nothing is saved (the automatic ``Table``), else a Styler."""
    saved = [
        c for c in visualization.options.get("columns") or () if isinstance(c, dict) and "name" in c
    ]
    if not saved:
        return frame
    known = {c["name"] for c in saved}
    # columns the query returns that the saved list does not know show at its end, as there
    shown = sorted(
        (c for c in saved if c.get("visible", True) and c["name"] in frame.columns),
        key=lambda c: c.get("order", 0),
    ) + [{"name": name} for name in frame.columns if name not in known]
    view = frame[[c["name"] for c in shown]]
    view.columns = [c.get("title") or c["name"] for c in shown]
    formats = {c.get("title") or c["name"]: _formatter(c) for c in shown}
    return view.style.format(formats).hide(axis="index")
