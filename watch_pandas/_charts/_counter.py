"""COUNTER: one value (a cell counted from the first or the last row, or the row count), an
optional target and the trend between them, formatted as the web UI's counter formats them."""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._formats import format_number
from ._series import cell

if TYPE_CHECKING:
    import pandas as pd

    from ..models import Visualization


@dataclass(frozen=True)
class Counter:
    """A counter as text: ``value``, ``target`` (``None`` without one), ``label`` and
    ``trend`` (``"up"``, ``"down"`` or ``None``); shows itself in a notebook."""

    value: str
    target: str | None
    label: str
    trend: str | None = None

    def __str__(self) -> str:
        target = f" ({self.target})" if self.target is not None else ""
        return f"{self.label}: {self.value}{target}"

    def _repr_html_(self) -> str:
        colour = {"up": "#2E7D32", "down": "#C62828"}.get(self.trend or "", "inherit")
        target = (
            f'<div style="font-size:1.4em;color:#888">({html.escape(self.target)})</div>'
            if self.target is not None
            else ""
        )
        return (
            '<div style="text-align:center;padding:1em;font-family:sans-serif">'
            f'<div style="font-size:3em;font-weight:600;color:{colour}">'
            f"{html.escape(self.value)}</div>{target}"
            f'<div style="font-size:1.2em;color:#555">{html.escape(self.label)}</div></div>'
        )


def row_index(number: Any, count: int) -> int:
    """1..N from the first row, -1..-N from the last (both wrap around), 0 the first."""
    try:
        index = int(number or 0)
    except (TypeError, ValueError):
        index = 0
    if index == 0 or count == 0:
        return 0
    wrapped = (abs(index) - 1) % count
    return wrapped if index > 0 else count - wrapped - 1


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _format(value: Any, options: dict[str, Any]) -> str:
    """Prefix, digits with the chosen separators and decimals, suffix; text as it is."""
    if not _is_number(value):
        return "" if value is None else str(value)
    decimals = options.get("stringDecimal")
    point = options.get("stringDecChar")
    thousands = options.get("stringThouSep")
    chosen = isinstance(decimals, int) and decimals >= 0 or point or thousands
    if not chosen:
        decimals, point, thousands = 3, ".", ","
    digits = int(decimals) if isinstance(decimals, int) and decimals > 0 else 0
    text = f"{abs(value):,.{digits}f}"
    whole, _, frac = text.partition(".")
    whole = whole.replace(",", thousands or "")
    text = whole + ((point or ".") + frac if frac else "")
    sign = "-" if value < 0 else ""
    return f"{sign}{options.get('stringPrefix') or ''}{text}{options.get('stringSuffix') or ''}"


def draw_counter(visualization: Visualization, frame: pd.DataFrame) -> Counter:
    options = visualization.options
    label = options.get("counterLabel") or visualization.name
    rows = len(frame)
    if rows == 0 and not options.get("countRow"):
        return Counter("", None, label)
    value: Any = None
    column = options.get("counterColName")
    if options.get("countRow"):
        value = rows
    elif column in frame.columns:
        value = cell(frame[column].iloc[row_index(options.get("rowNumber"), rows)])
    target: Any = None
    trend = None
    target_column = options.get("targetColName")
    if target_column and target_column in frame.columns and rows:
        target = cell(frame[target_column].iloc[row_index(options.get("targetRowNumber"), rows)])
        if _is_number(value) and _is_number(target):
            trend = "up" if value - target >= 0 else "down"
    if target is None:
        shown_target = None
    elif options.get("formatTargetValue"):
        shown_target = _format(target, options)
    else:
        shown_target = format_number(target, "0[.]00[0]") if _is_number(target) else str(target)
    return Counter(_format(value, options), shown_target, label, trend)
