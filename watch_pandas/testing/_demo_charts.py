"""The demo's saved visualizations, with options shaped as the web UI's editor saves them
(docs/protocol.md#visualizations), so ``plot()`` and the dashboards have charts to show."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from ._server import LocalWatch


def _chart(kind: str, mapping: dict[str, str], **options: Any) -> dict[str, Any]:
    saved: dict[str, Any] = {
        "globalSeriesType": kind,
        "sortX": True,
        "legend": {"enabled": True, "placement": "auto", "traceorder": "normal"},
        "xAxis": {"type": "-", "labels": {"enabled": True}},
        "yAxis": [{"type": "linear"}, {"type": "linear", "opposite": True}],
        "series": {"stacking": None, "error_y": {"type": "data", "visible": True}},
        "seriesOptions": {},
        "valuesOptions": {},
        "columnMapping": mapping,
        "numberFormat": "0,0[.]00000",
        "percentFormat": "0[.]00%",
        "textFormat": "",
        "missingValuesAsZero": True,
        "showDataLabels": False,
        "dateTimeFormat": "DD/MM/YY HH:mm",
    }
    saved.update(options)
    return saved


def _column(name: str, order: int, title: str, **shown: Any) -> dict[str, Any]:
    return {"name": name, "order": order, "title": title, "visible": True, **shown}


def add_demo_visualizations(lw: LocalWatch, queries: dict[str, int]) -> dict[str, int]:
    """Save the demo's charts; their ids by stable names."""
    add = lw.add_visualization
    by_day = {"day": "x", "price": "y", "symbol": "series"}
    return {
        "price_lines": add(
            queries["price_history"],
            "CHART",
            "Price by market",
            _chart(
                "line",
                by_day,
                xAxis={"type": "datetime", "labels": {"enabled": True}, "title": {"text": "Day"}},
                yAxis=[
                    {"type": "logarithmic", "title": {"text": "Price (USD)"}},
                    {"type": "linear", "opposite": True},
                ],
            ),
        ),
        "volume_stacked": add(
            queries["price_history"],
            "CHART",
            "Volume by market",
            _chart(
                "column",
                {"day": "x", "volume_usd": "y", "symbol": "series"},
                series={"stacking": "stack", "error_y": {"type": "data", "visible": True}},
                seriesOptions={"WETH": {"color": "#604FE9"}},
            ),
        ),
        "volume_pivot": add(
            queries["prices"],
            "PIVOT",
            "Average volume by market",
            {
                "aggregatorName": "Average",
                "rows": ["symbol"],
                "cols": [],
                "vals": ["volume_usd"],
                "rendererName": "Table",
                "rendererOptions": {"table": {"colTotals": True, "rowTotals": True}},
            },
        ),
        "prices_table": add(
            queries["prices"],
            "TABLE",
            "Prices (formatted)",
            {
                "itemsPerPage": 25,
                "columns": [
                    _column("day", 0, "Day", displayAs="datetime", dateTimeFormat="DD MMM YYYY"),
                    _column("symbol", 1, "Market", displayAs="string"),
                    _column("price", 2, "Price", displayAs="number", numberFormat="$0,0.00"),
                    _column("volume_usd", 3, "Volume", displayAs="number", numberFormat="$0.0a"),
                    _column("is_stable", 4, "Stable", displayAs="boolean", visible=False),
                ],
            },
        ),
        "markets_counter": add(
            queries["markets"],
            "COUNTER",
            "Markets listed",
            {"counterLabel": "Markets listed", "countRow": True, "stringDecimal": 0},
        ),
    }
