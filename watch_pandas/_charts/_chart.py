"""CHART: line, column, area, scatter, bubble and box traces and their layout, as the web UI
prepares them for plotly (docs/charts.md#charts); pie charts are in ``_pie``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._fallback import NotDrawn
from ._formats import format_number
from ._plotly import PALETTE, graph_objects
from ._series import Series, chart_series, number, sort_key

if TYPE_CHECKING:
    import pandas as pd

    from ..models import Visualization

SERIES_TYPES = ("line", "column", "area", "scatter", "bubble", "box")
AXIS_TYPES = {"datetime": "date", "logarithmic": "log"}


def draw_chart(visualization: Visualization, frame: pd.DataFrame) -> object:
    options = visualization.options
    kind = options.get("globalSeriesType") or "column"
    if kind == "pie":
        from ._pie import draw_pie

        return draw_pie(visualization, frame)
    if kind not in SERIES_TYPES:
        return NotDrawn(visualization, frame, f"{kind} charts are not drawn")
    go = graph_objects()
    series = chart_series(options, frame)
    traces = [_trace(one, index, options) for index, one in enumerate(series)]
    _percent_and_stacking(traces, options)
    fig = go.Figure()
    for trace in traces:
        fig.add_trace(_plotly_trace(go, trace, options))
    fig.update_layout(_layout(visualization, traces))
    return fig


def _trace(series: Series, index: int, options: dict[str, Any]) -> dict[str, Any]:
    """One series as the web UI's trace description (before plotly)."""
    saved = (options.get("seriesOptions") or {}).get(series.name)
    own = {"type": options.get("globalSeriesType") or "column", "yAxis": 0}
    own.update(saved if isinstance(saved, dict) else {})
    stacking = (options.get("series") or {}).get("stacking")
    on_second = own.get("yAxis") == 1 and (not stacking or own["type"] == "line")
    points = series.points
    if options.get("sortX", True):
        points = sorted(points, key=lambda p: sort_key(p.x))
    any_y = own["type"] in ("bubble", "scatter")
    xs: list[Any] = []
    ys: list[Any] = []
    sizes: list[Any] = []
    for point in points:
        y = point.y if any_y else number(point.y)
        if y is None and not any_y and options.get("missingValuesAsZero", True):
            y = 0.0
        xs.append(point.x)
        ys.append(y)
        sizes.append(number(point.size))
    return {
        "kind": own["type"],
        "source": series.name,
        "name": own.get("name") or series.name,
        "color": own.get("color") or PALETTE[index % len(PALETTE)],
        "yaxis": "y2" if on_second else "y",
        "x": xs,
        "y": ys,
        "size": sizes,
        "index": index,
    }


def _percent_and_stacking(traces: list[dict[str, Any]], options: dict[str, Any]) -> None:
    """Percent values (share of each x's total) and, for lines and areas, stacked values added
    up per x over a shared x axis, as the web UI computes them before drawing."""
    series_options = options.get("series") or {}
    zero = options.get("missingValuesAsZero", True)
    if series_options.get("percentValues"):
        totals: dict[Any, float] = {}
        for trace in traces:
            for x, y in zip(trace["x"], trace["y"], strict=True):
                totals[x] = totals.get(x, 0.0) + abs(y or 0.0)
        for trace in traces:
            trace["y"] = [
                None if y is None and not zero else (y or 0.0) / totals[x] * 100 if totals[x] else 0
                for x, y in zip(trace["x"], trace["y"], strict=True)
            ]
    kind = options.get("globalSeriesType")
    stacked = bool(series_options.get("stacking")) and kind in ("line", "area")
    category = options.get("sortX", True) and (options.get("xAxis") or {}).get("type") == (
        "category"
    )
    if not (stacked or (category and kind != "box")):
        return
    shared: list[Any] = []
    for trace in traces:
        shared.extend(x for x in trace["x"] if x not in shared)
    if options.get("sortX", True):
        shared.sort(key=sort_key)
    running: dict[Any, float] = {}
    for trace in traces:
        values = dict(zip(trace["x"], trace["y"], strict=True))
        trace["x"] = list(shared)
        trace["y"] = [values.get(x, 0.0 if zero else None) for x in shared]
        if stacked:
            stacked_y: list[Any] = []
            for x, y in zip(trace["x"], trace["y"], strict=True):
                if y is None:
                    stacked_y.append(None)
                    continue
                running[x] = running.get(x, 0.0) + y
                stacked_y.append(running[x])
            trace["y"] = stacked_y


def _plotly_trace(go: Any, trace: dict[str, Any], options: dict[str, Any]) -> Any:
    labels = bool(options.get("showDataLabels"))
    text = [format_number(y, options.get("numberFormat") or "0,0[.]00000") for y in trace["y"]]
    common = {
        "x": trace["x"],
        "y": trace["y"],
        "name": trace["name"],
        "yaxis": trace["yaxis"],
        "marker": {"color": trace["color"]},
        "text": text if labels else None,
    }
    kind = trace["kind"]
    stacking = (options.get("series") or {}).get("stacking")
    if kind == "column":
        extra = {"textposition": "inside"} if labels else {}
        return go.Bar(offsetgroup=str(trace["index"]), **common, **extra)
    if kind == "box":
        return go.Box(boxpoints="all" if options.get("showpoints") else "outliers", **common)
    if kind == "bubble":
        coefficient = options.get("coefficient") or 1
        common["marker"] = {
            "color": trace["color"],
            "size": [None if s is None else s * coefficient for s in trace["size"]],
            "sizemode": options.get("sizemode") or "diameter",
        }
        return go.Scatter(mode="markers", **common)
    mode = {"scatter": "markers"}.get(kind, "lines") + ("+text" if labels else "")
    if kind == "area":
        return go.Scatter(mode=mode, fill="tonexty" if stacking else "tozeroy", **common)
    return go.Scatter(mode=mode, **common)


def _axis(saved: Any, *, y: bool) -> dict[str, Any]:
    saved = saved if isinstance(saved, dict) else {}
    title = saved.get("title")
    axis: dict[str, Any] = {
        "title": {"text": title.get("text")} if isinstance(title, dict) else None,
        "type": AXIS_TYPES.get(saved.get("type"), saved.get("type") or "-"),
        "automargin": True,
    }
    if saved.get("tickFormat"):
        axis["tickformat"] = saved["tickFormat"]
    if y:
        low, high = saved.get("rangeMin"), saved.get("rangeMax")
        if low is not None or high is not None:
            axis["range"] = [low, high]
    return axis


def _layout(visualization: Visualization, traces: list[dict[str, Any]]) -> dict[str, Any]:
    options = visualization.options
    legend = options.get("legend") or {}
    x_axis = options.get("xAxis") or {}
    y_axes = list(options.get("yAxis") or [{}, {}]) + [{}, {}]
    layout: dict[str, Any] = {
        "title": {"text": visualization.name},
        "showlegend": legend.get("enabled", True),
        "legend": {"traceorder": legend.get("traceorder", "normal")},
        "xaxis": _axis(x_axis, y=False),
        "yaxis": _axis(y_axes[0], y=True),
    }
    if options.get("sortX", True) and layout["xaxis"]["type"] == "category":
        layout["xaxis"]["categoryorder"] = (
            "category descending" if options.get("reverseX") else "category ascending"
        )
    if isinstance(x_axis.get("labels"), dict):
        layout["xaxis"]["showticklabels"] = bool(x_axis["labels"].get("enabled", True))
    if any(t["yaxis"] == "y2" for t in traces):
        layout["yaxis2"] = dict(_axis(y_axes[1], y=True), overlaying="y", side="right")
    if (options.get("series") or {}).get("stacking"):
        layout["barmode"] = "relative"
    if options.get("globalSeriesType") in ("line", "area", "column"):
        layout["hovermode"] = "x"
    return layout
