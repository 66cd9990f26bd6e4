"""Saved visualizations drawn as the web UI draws them (docs/charts.md).

``render(visualization, frame)`` is the one entry point (``plot()``, ``df.watch.plot()`` and
the dashboard view call it); one module per kind: ``_chart`` and ``_pie`` (CHART, with
plotly, imported on first use), ``_counter``, ``_table``, ``_pivot``; ``_fallback`` for the
kinds not drawn; ``_formats`` the web UI's number and date formats.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._fallback import NotDrawn

if TYPE_CHECKING:
    import pandas as pd

    from ..models import Visualization

__all__ = ["render", "NotDrawn", "DRAWN"]

DRAWN = ("CHART", "COUNTER", "TABLE", "PIVOT")


def render(visualization: Visualization, frame: pd.DataFrame) -> object:
    """``frame`` (the query's result) shown as ``visualization`` says: a plotly Figure
    (CHART), a ``Counter`` (COUNTER), a Styler or the frame (TABLE), a pivot table (PIVOT);
    any other kind is the frame with one line saying it is not drawn (``NotDrawn``)."""
    kind = visualization.type
    if kind == "CHART":
        from ._chart import draw_chart

        return draw_chart(visualization, frame)
    if kind == "COUNTER":
        from ._counter import draw_counter

        return draw_counter(visualization, frame)
    if kind == "TABLE":
        from ._table import draw_table

        return draw_table(visualization, frame)
    if kind == "PIVOT":
        from ._pivot import draw_pivot

        return draw_pivot(visualization, frame)
    return NotDrawn(visualization, frame)
