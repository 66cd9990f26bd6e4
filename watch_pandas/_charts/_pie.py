"""CHART pie: one pie per series, slices summed per x value, slice colours from
``valuesOptions`` (else the palette, in the order values first need one)."""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any

from ._plotly import PALETTE, graph_objects
from ._series import chart_series, number

if TYPE_CHECKING:
    import pandas as pd

    from ..models import Visualization


def draw_pie(visualization: Visualization, frame: pd.DataFrame) -> object:
    go = graph_objects()
    options = visualization.options
    series = chart_series(options, frame)
    has_x = "x" in (options.get("columnMapping") or {}).values()
    saved = {
        str(k): v["color"]
        for k, v in (options.get("valuesOptions") or {}).items()
        if isinstance(v, dict) and isinstance(v.get("color"), str) and v["color"]
    }
    automatic: dict[str, str] = {}

    def colour(label: Any) -> str:
        key = str(label)
        if key in saved:
            return saved[key]
        if key not in automatic:
            automatic[key] = PALETTE[len(automatic) % len(PALETTE)]
        return automatic[key]

    rows = 2 if len(series) > 2 else 1
    per_row = max(1, math.ceil(len(series) / rows))
    width, height = 1 / per_row, 1 / rows
    fig = go.Figure()
    annotations = []
    for index, one in enumerate(series):
        sums: dict[Any, float] = {}
        for point in one.points:
            label = point.x if has_x else f"Slice {index}"
            sums[label] = sums.get(label, 0.0) + (number(point.y) or 0.0)
        left, bottom = (index % per_row) * width, (index // per_row) * height
        own = (options.get("seriesOptions") or {}).get(one.name)
        name = (own.get("name") if isinstance(own, dict) else None) or one.name
        fig.add_trace(
            go.Pie(
                labels=list(sums),
                values=list(sums.values()),
                name=name,
                hole=0.4,
                marker={"colors": [colour(label) for label in sums]},
                textinfo="percent" if options.get("showDataLabels") else "none",
                textposition="inside",
                direction=(options.get("direction") or {}).get("type", "counterclockwise"),
                domain={
                    "x": [left, left + width - 0.02],
                    "y": [bottom, bottom + height - 0.1],
                },
            )
        )
        annotations.append(
            {
                "x": left + (width - 0.02) / 2,
                "y": bottom + height - 0.015,
                "xanchor": "center",
                "yanchor": "top",
                "text": name,
                "showarrow": False,
            }
        )
    names_in_text = re.search(r"{{\s*@@name\s*}}", options.get("textFormat") or "")
    legend = options.get("legend") or {}
    fig.update_layout(
        title={"text": visualization.name},
        showlegend=legend.get("enabled", True),
        annotations=[] if names_in_text else annotations,
    )
    return fig
