"""A CHART's series from the result rows, as the web UI groups them (docs/charts.md#charts):
``columnMapping`` names the x, y, series, size and error columns; without a series column
each y column is a series, with one every value of it is; points sharing an x are summed
(except for scatter, bubble and box); series are ordered by their ``zIndex``."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

UNAGGREGATED = ("custom", "heatmap", "bubble", "scatter", "box")


@dataclass
class Point:
    x: Any
    y: Any
    size: Any = None
    y_error: Any = None


@dataclass
class Series:
    name: str
    points: list[Point] = field(default_factory=list)


def cell(value: Any) -> Any:
    """A frame's cell as a plain value (missing values as None)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    return value.item() if hasattr(value, "item") and not isinstance(value, pd.Timestamp) else value


def number(value: Any) -> float | None:
    """A y value as a number (the web UI cleans y values to numbers; text that is not one is
    missing)."""
    value = cell(value)
    if value is None or isinstance(value, bool):
        return None if value is None else float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _add(total: Any, value: Any) -> Any:
    if isinstance(total, (int, float)) and isinstance(value, (int, float)):
        return total + value
    return total if total is not None else value


def chart_series(options: dict[str, Any], frame: pd.DataFrame) -> list[Series]:
    mapping = options.get("columnMapping") or {}
    roles: dict[str, list[str]] = {}
    for column in frame.columns:  # row order of the columns, as the web UI walks a row
        role = mapping.get(str(column))
        if role and role != "unused":
            roles.setdefault(role, []).append(column)

    def last(*names: str) -> str | None:
        found = [column for name in names for column in roles.get(name, ())]
        return found[-1] if found else None

    x_col = last("x")
    y_cols = roles.get("y", [])
    series_col = last("series", "multiFilter")
    size_col = last("size")
    error_col = last("yError")
    collected: dict[str, Series] = {}

    def add(name: str, point: Point) -> None:
        collected.setdefault(name, Series(name)).points.append(point)

    for row in frame.to_dict("records"):
        x = cell(row[x_col]) if x_col is not None else 0
        size = cell(row[size_col]) if size_col is not None else None
        error = cell(row[error_col]) if error_col is not None else None
        if series_col is not None:
            y = cell(row[y_cols[-1]]) if y_cols else None
            add(str(cell(row[series_col])), Point(x, y, size, error))
        else:
            for column in y_cols:
                add(str(column), Point(x, cell(row[column]), size, error))

    series = list(collected.values())
    if options.get("globalSeriesType") not in UNAGGREGATED:
        for one in series:
            summed: dict[Any, Point] = {}
            for point in one.points:
                if point.x in summed:
                    summed[point.x].y = _add(summed[point.x].y, point.y)
                else:
                    summed[point.x] = Point(point.x, point.y, point.size, point.y_error)
            one.points = list(summed.values())
    series_options = options.get("seriesOptions") or {}

    def z_index(one: Series) -> Any:
        found = series_options.get(one.name)
        return (found.get("zIndex") or 0) if isinstance(found, dict) else 0

    return sorted(series, key=z_index)


def sort_key(value: Any) -> tuple[int, Any]:
    """Sorting x values: missing last, numbers and dates by value, anything else as text."""
    if value is None:
        return (2, 0)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, value)
    if isinstance(value, pd.Timestamp):
        return (0, value.value)
    return (1, str(value))
