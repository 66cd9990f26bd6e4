"""watch_pandas._charts.render: each saved visualization type drawn as the web UI draws it,
checked on the figure (traces, data, axes, stacking, colours) from the recorded options."""

from __future__ import annotations

import copy
import sys

import pandas as pd
import pytest
from _samples import sample_body

from watch_pandas import ConfigError
from watch_pandas._charts import render
from watch_pandas._charts._formats import format_date, format_number
from watch_pandas.models import Visualization

PALETTE_FIRST = ["#356AFF", "#E92828", "#3BD973"]


def viz(sample: str, **changes) -> Visualization:
    body = copy.deepcopy(sample_body(sample))
    body["options"].update(changes)
    return Visualization.from_json(body, query_id=12)


@pytest.fixture
def daily() -> pd.DataFrame:
    """Like the recorded 'example daily prices' (one row per day), deliberately unsorted."""
    return pd.DataFrame(
        {
            "day": pd.to_datetime(["2024-01-03", "2024-01-01", "2024-01-02"]),
            "total_price": pd.array([30.5, 10.25, 1234.5], dtype="Float64"),
            "total_amount": pd.array([3.0, 1.0, 2.0], dtype="Float64"),
            "n": pd.array([3, 1, 2], dtype="Int64"),
        }
    )


@pytest.fixture
def by_region() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "month": ["2024-02", "2024-01", "2024-01", "2024-02", "2024-01"],
            "region": ["north", "north", "west", "west", "east"],
            "total_price": [5.0, 1.0, 2.0, 7.0, 4.0],
            "n": [1, 2, 3, 4, 5],
        }
    )


def as_list(values) -> list:
    return list(values) if values is not None else []


# -- CHART -------------------------------------------------------------------------------
def test_line_two_y_columns_names_colours_and_the_second_axis(daily):
    fig = render(viz("54-viz-create-chart-line"), daily)
    price, amount = fig.data
    assert [t.type for t in fig.data] == ["scatter", "scatter"]
    assert price.mode == amount.mode == "lines"
    assert (price.name, amount.name) == ("Price", "Amount")
    ordered = daily.sort_values("day")  # sortX
    assert as_list(price.x) == list(ordered["day"])
    assert as_list(price.y) == list(ordered["total_price"])
    assert as_list(amount.y) == list(ordered["total_amount"])
    assert price.marker.color == "#356AFF"  # its saved colour
    assert amount.marker.color == PALETTE_FIRST[1]  # the palette by series index
    assert (price.yaxis, amount.yaxis) == ("y", "y2")
    layout = fig.layout
    assert (layout.yaxis2.overlaying, layout.yaxis2.side) == ("y", "right")
    assert layout.xaxis.type == "date"
    assert (layout.xaxis.title.text, layout.yaxis.title.text) == ("Day", "Price")
    assert layout.yaxis2.title.text == "Amount"
    assert layout.showlegend is True


def test_column_stacked_splits_series_by_the_series_column(by_region):
    fig = render(viz("55-viz-create-chart-column-stacked"), by_region)
    assert [t.type for t in fig.data] == ["bar"] * 3
    assert [t.name for t in fig.data] == ["north", "west", "east"]  # first appearance
    assert fig.layout.barmode == "relative"
    north = fig.data[0]
    assert dict(zip(north.x, north.y, strict=True)) == {"2024-01": 1.0, "2024-02": 5.0}
    assert as_list(north.x) == ["2024-01", "2024-02"]  # sortX
    assert north.textposition == "inside"  # showDataLabels
    assert [t.marker.color for t in fig.data] == PALETTE_FIRST
    assert "yaxis2" not in fig.layout.to_plotly_json()  # no series on the second axis


def test_column_without_stacking_groups(by_region):
    fig = render(viz("55-viz-create-chart-column-stacked", series={"stacking": None}), by_region)
    assert fig.layout.barmode in (None, "group")


def test_percent_values_are_shares_of_each_x(by_region):
    options = {"series": {"stacking": "stack", "percentValues": True}}
    fig = render(viz("55-viz-create-chart-column-stacked", **options), by_region)
    january = {t.name: dict(zip(t.x, t.y, strict=True))["2024-01"] for t in fig.data}
    assert january == pytest.approx({"north": 100 / 7, "west": 200 / 7, "east": 400 / 7})


def test_area_fills_to_zero_and_stacked_lines_accumulate(daily, by_region):
    (area,) = render(viz("56-viz-create-chart-area"), daily).data
    assert (area.type, area.mode, area.fill) == ("scatter", "lines", "tozeroy")
    stacked = viz(
        "56-viz-create-chart-area",
        columnMapping={"month": "x", "total_price": "y", "region": "series"},
        series={"stacking": "stack"},
        seriesOptions={},
        missingValuesAsZero=True,
    )
    fig = render(stacked, by_region)
    assert [t.fill for t in fig.data] == ["tonexty"] * 3
    tops = {t.name: dict(zip(t.x, t.y, strict=True)) for t in fig.data}
    assert tops["north"] == {"2024-01": 1.0, "2024-02": 5.0}
    assert tops["west"] == {"2024-01": 3.0, "2024-02": 12.0}
    assert tops["east"] == {"2024-01": 7.0, "2024-02": 12.0}  # missing value as zero


def test_pie_sums_slices_and_uses_saved_slice_colours(by_region):
    fig = render(viz("57-viz-create-chart-pie"), by_region)
    (pie,) = fig.data
    assert pie.type == "pie"
    assert dict(zip(pie.labels, pie.values, strict=True)) == {
        "north": 6.0,
        "west": 9.0,
        "east": 4.0,
    }
    colours = dict(zip(pie.labels, pie.marker.colors, strict=True))
    assert (colours["north"], colours["west"]) == ("#356AFF", "#E92828")
    assert colours["east"] == "#356AFF"  # the palette's first for the first value without one
    assert pie.hole == 0.4
    assert pie.textinfo == "percent"


def test_scatter_keeps_every_point_on_a_linear_x(daily):
    (points,) = render(viz("58-viz-create-chart-scatter"), daily).data
    assert (points.type, points.mode) == ("scatter", "markers")
    ordered = daily.sort_values("n")
    assert as_list(points.x) == list(ordered["n"])
    assert as_list(points.y) == list(ordered["total_price"])
    assert render(viz("58-viz-create-chart-scatter"), daily).layout.xaxis.type == "linear"


def test_bubble_sizes_from_the_size_column(daily):
    bubble = viz(
        "58-viz-create-chart-scatter",
        globalSeriesType="bubble",
        columnMapping={"n": "x", "total_price": "y", "total_amount": "size"},
        seriesOptions={},
        coefficient=10,
    )
    (trace,) = render(bubble, daily).data
    assert trace.mode == "markers"
    assert as_list(trace.marker.size) == [10.0, 20.0, 30.0]
    assert trace.marker.sizemode == "diameter"


def test_per_series_type_axis_types_and_unsorted_x(daily):
    chart = viz(
        "54-viz-create-chart-line",
        sortX=False,
        seriesOptions={"total_amount": {"type": "column", "yAxis": 0}},
        xAxis={"type": "category"},
        yAxis=[{"type": "logarithmic"}, {"type": "linear"}],
    )
    fig = render(chart, daily)
    assert [t.type for t in fig.data] == ["scatter", "bar"]
    assert as_list(fig.data[0].x) == list(daily["day"])  # as the rows came
    assert (fig.layout.xaxis.type, fig.layout.yaxis.type) == ("category", "log")


def test_series_are_ordered_by_their_z_index(daily):
    chart = viz(
        "54-viz-create-chart-line",
        seriesOptions={"total_price": {"zIndex": 1}, "total_amount": {"zIndex": 0}},
    )
    assert [t.name for t in render(chart, daily).data] == ["total_amount", "total_price"]


def test_a_chart_without_plotly_names_the_extra(daily, monkeypatch):
    monkeypatch.setitem(sys.modules, "plotly", None)
    monkeypatch.setitem(sys.modules, "plotly.graph_objects", None)
    with pytest.raises(ConfigError, match=r'pip install "watch-pandas\[plot\]"'):
        render(viz("54-viz-create-chart-line"), daily)


# -- COUNTER -----------------------------------------------------------------------------
def test_counter_counts_rows_from_the_end_with_prefix_and_decimals(daily):
    counter = render(viz("59-viz-create-counter"), daily)
    # rowNumber -1: the last row; targetRowNumber -2: the one before it
    assert counter.value == "$1,234.50"
    assert counter.target == "$10.25"
    assert counter.label == "Latest day, total price"
    assert counter.trend == "up"
    html = counter._repr_html_()
    assert "$1,234.50" in html and "Latest day, total price" in html


def test_counter_options_first_row_count_rows_suffix_and_separators(daily):
    first = render(viz("59-viz-create-counter", rowNumber=1, targetColName=""), daily)
    assert (first.value, first.target) == ("$30.50", None)
    rows = render(viz("59-viz-create-counter", countRow=True, stringPrefix=""), daily)
    assert rows.value == "3.00"
    euro = viz(
        "59-viz-create-counter",
        stringPrefix="",
        stringSuffix=" €",
        stringDecChar=",",
        stringThouSep=".",
        stringDecimal=1,
    )
    assert render(euro, daily).value == "1.234,5 €"


# -- TABLE -------------------------------------------------------------------------------
def test_table_orders_hides_titles_and_formats_columns(daily):
    styler = render(viz("61-viz-create-table-columns"), daily)
    shown = styler.data
    assert list(shown.columns) == ["Day", "Rows", "Price"]  # total_amount hidden
    html = styler.to_html()
    assert "$1,234.50" in html and "2024-01-02" in html
    assert "total_amount" not in html


def test_the_automatic_table_is_the_frame_itself(daily):
    table = Visualization.from_json(
        sample_body("63-query-with-visualizations-daily")["visualizations"][0]
    )
    assert render(table, daily) is daily


def test_formats_follow_numeral_and_moment():
    assert format_number(1234.5, "$0,0.00") == "$1,234.50"
    assert format_number(1234.5, "0,0[.]00000") == "1,234.50000"
    assert format_number(3.0, "0[.]00") == "3"
    assert format_number(0.256, "0.0%") == "25.6%"
    assert format_number(1234, "0") == "1234"
    assert format_number(1500000, "0.0a") == "1.5m"
    assert format_number(-2.5, "0,0.00") == "-2.50"
    stamp = pd.Timestamp("2024-03-05 14:07:09")
    assert format_date(stamp, "DD/MM/YYYY HH:mm") == "05/03/2024 14:07"
    assert format_date(stamp, "YYYY-MM-DD") == "2024-03-05"
    assert format_date(stamp, "D MMM YY, h:mm A") == "5 Mar 24, 2:07 PM"


# -- PIVOT -------------------------------------------------------------------------------
def test_pivot_is_a_pandas_pivot_table_with_totals(by_region):
    table = render(viz("60-viz-create-pivot"), by_region)
    assert isinstance(table, pd.DataFrame)
    assert table.loc["2024-01", "west"] == 2.0
    assert table.loc["2024-02", "north"] == 5.0
    assert table.loc["Totals", "Totals"] == by_region["total_price"].sum()
    assert table.loc["2024-01", "Totals"] == 7.0


def test_pivot_count_and_average(by_region):
    counted = render(viz("60-viz-create-pivot", aggregatorName="Count", vals=[]), by_region)
    assert counted.loc["2024-01", "north"] == 1
    averaged = render(
        viz("60-viz-create-pivot", aggregatorName="Average", rendererOptions={}), by_region
    )
    assert averaged.loc["2024-02", "west"] == 7.0


def test_pivot_with_rows_only_keeps_its_totals_row_and_column(by_region):
    table = render(viz("60-viz-create-pivot", cols=[]), by_region)
    by_month = by_region.groupby("month")["total_price"].sum()
    # the web UI labels a rows-only pivot's one value column "Totals" and adds a Totals row
    assert list(table.columns) == ["Totals"]
    assert table.loc["2024-01", "Totals"] == by_month["2024-01"]
    assert table.loc["Totals", "Totals"] == by_region["total_price"].sum()
    averaged = render(viz("60-viz-create-pivot", cols=[], aggregatorName="Average"), by_region)
    # an Average total is the mean of every row, not the mean of the group means
    assert averaged.loc["Totals", "Totals"] == by_region["total_price"].mean()


def test_pivot_with_columns_only_keeps_its_totals(by_region):
    table = render(viz("60-viz-create-pivot", rows=[]), by_region)
    assert list(table.index) == ["Totals"]
    assert list(table.columns) == ["east", "north", "west", "Totals"]
    assert table.loc["Totals", "north"] == 6.0
    assert table.loc["Totals", "Totals"] == by_region["total_price"].sum()


@pytest.mark.parametrize("rows", [["month"], []])
def test_pivot_totals_switched_off_keep_the_values_under_their_own_name(by_region, rows):
    off = {"table": {"colTotals": False, "rowTotals": False}}
    cols = [] if rows else ["region"]
    table = render(viz("60-viz-create-pivot", rows=rows, cols=cols, rendererOptions=off), by_region)
    assert "Totals" not in table.index and "Totals" not in table.columns
    if rows:
        assert table.loc["2024-02", "total_price"] == 12.0
    else:
        assert table.loc["total_price", "west"] == 9.0


def test_pivot_with_two_row_keys_and_no_columns_has_one_totals_row(by_region):
    table = render(viz("60-viz-create-pivot", rows=["month", "region"], cols=[]), by_region)
    assert table.loc[("2024-01", "west"), "Totals"] == 2.0
    assert table.loc[("Totals", ""), "Totals"] == by_region["total_price"].sum()


# -- everything else ---------------------------------------------------------------------
def test_other_types_fall_back_to_the_table_with_one_line(daily):
    shown = render(viz("62-viz-create-details"), daily)
    assert shown.frame is daily
    assert shown.message == (
        "DETAILS visualization 'example details row' is not drawn here; showing its table."
    )
    assert shown.message in repr(shown)
    assert shown.message in shown._repr_html_()
