"""PIVOT: the saved pivot table (rows, cols, vals, aggregator, totals) as a pandas pivot
table."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from ._fallback import NotDrawn

if TYPE_CHECKING:
    from ..models import Visualization

TOTALS = "Totals"
# the pivot table's aggregator names → pandas aggregations
AGGREGATORS: dict[str, Any] = {
    "Count": "count",
    "Count Unique Values": "nunique",
    "List Unique Values": lambda s: ", ".join(sorted({str(v) for v in s.dropna()})),
    "Sum": "sum",
    "Integer Sum": lambda s: int(round(s.sum())),
    "Average": "mean",
    "Median": "median",
    "Sample Variance": "var",
    "Sample Standard Deviation": "std",
    "Minimum": "min",
    "Maximum": "max",
    "First": "first",
    "Last": "last",
}


def draw_pivot(visualization: Visualization, frame: pd.DataFrame) -> object:
    options = visualization.options
    name = options.get("aggregatorName") or "Count"
    aggregate = AGGREGATORS.get(name)
    if aggregate is None:
        choices = ", ".join(AGGREGATORS)
        return NotDrawn(visualization, frame, f"the {name!r} aggregator is not one of {choices}")
    rows = [c for c in options.get("rows") or () if c in frame.columns]
    cols = [c for c in options.get("cols") or () if c in frame.columns]
    vals = [c for c in options.get("vals") or () if c in frame.columns]
    table_options = (options.get("rendererOptions") or {}).get("table") or {}
    row_totals = table_options.get("rowTotals", True)
    col_totals = table_options.get("colTotals", True)
    data = frame.copy()
    label = name if name == "Count" or not vals else vals[0]
    if name == "Count" or not vals:
        data["__count__"], vals, aggregate = 1, ["__count__"], "sum"
    if not rows and not cols:
        result = pd.DataFrame({TOTALS: [data[vals[0]].agg(aggregate)]}, index=[TOTALS])
        return result
    if not (rows and cols):
        return _one_sided(
            data, rows or cols, vals[0], aggregate, label, row_totals, col_totals, bool(rows)
        )
    table = pd.pivot_table(
        data,
        values=vals[0],
        index=rows,
        columns=cols,
        aggfunc=aggregate,
        margins=row_totals or col_totals,
        margins_name=TOTALS,
        observed=True,
    )
    if not row_totals and TOTALS in table.columns:
        table = table.drop(columns=TOTALS)
    if not col_totals and TOTALS in table.index:
        table = table.drop(index=TOTALS)
    table.columns.name = ", ".join(cols)
    return table


def _one_sided(
    data: pd.DataFrame,
    keys: list[str],
    value: str,
    aggregate: Any,
    label: str,
    row_totals: bool,
    col_totals: bool,
    by_rows: bool,
) -> pd.DataFrame:
    """A pivot with rows only (or columns only). As in the web UI, its one value column (row)
    is the row (column) totals, headed ``Totals``; the other switch adds the grand total as a
    ``Totals`` row (column). Switched off, the values stay, under the aggregated column's name:
    they are the table's data, not a total."""
    own_totals, cross_totals = (row_totals, col_totals) if by_rows else (col_totals, row_totals)
    table = pd.pivot_table(
        data,
        values=value,
        index=keys,
        aggfunc=aggregate,
        margins=cross_totals,
        margins_name=TOTALS,
        observed=True,
    )
    table.columns = [TOTALS if own_totals else label]
    if by_rows:
        return table
    flipped = table.T
    flipped.columns.name = ", ".join(keys)
    return flipped
