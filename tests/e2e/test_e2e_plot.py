"""watch_pandas.plot and df.watch.plot over real HTTP against the demo server: the saved
visualization is found (default, by name, by id), the frame read and drawn."""

from __future__ import annotations

import pandas as pd
import pytest

import watch_pandas as wp
from watch_pandas import ConfigError, NotFoundError


@pytest.fixture
def opts(lw):
    return {"url": lw.url, "api_key": lw.admin_key, "progress": False, "cache": False}


def test_plot_draws_the_first_visualization_that_is_not_a_table(lw, opts, read):
    qid = lw.demo.queries["price_history"]
    fig = wp.plot(qid, **opts)
    frame = read(qid)
    assert fig.layout.title.text == "Price by market"
    assert sorted(t.name for t in fig.data) == sorted(frame["symbol"].unique())
    weth = next(t for t in fig.data if t.name == "WETH")
    rows = frame[frame["symbol"] == "WETH"].sort_values("day")
    assert list(weth.x) == list(rows["day"])
    assert list(weth.y) == pytest.approx(list(rows["price"]))
    assert fig.layout.yaxis.type == "log"


def test_plot_by_name_or_id_and_with_parameters(lw, opts, read):
    qid = lw.demo.queries["price_history"]
    stacked = wp.plot(qid, "Volume by market", params={"symbols": ["WETH"]}, **opts)
    assert [t.name for t in stacked.data] == ["WETH"]
    assert stacked.layout.barmode == "relative"
    pivot = wp.plot(lw.demo.queries["prices"], lw.demo.visualizations["volume_pivot"], **opts)
    frame = read(lw.demo.queries["prices"])
    expected = frame.groupby("symbol")["volume_usd"].mean()
    # rows only, both totals on (as the demo saves it): a Totals column and a Totals row
    assert pivot["Totals"].drop("Totals").to_dict() == pytest.approx(expected.to_dict())
    assert pivot.loc["Totals", "Totals"] == pytest.approx(frame["volume_usd"].mean())


def test_a_query_with_only_its_table_shows_the_frame(lw, opts, read):
    shown = wp.plot(lw.demo.queries["positions"], **opts)
    assert isinstance(shown, pd.DataFrame)
    assert shown.shape == read(lw.demo.queries["positions"]).shape


def test_an_unknown_visualization_lists_the_saved_ones_without_the_key(lw, opts):
    qid = lw.demo.queries["price_history"]
    with pytest.raises(NotFoundError) as caught:
        wp.plot(qid, "Nope", **opts)
    message = str(caught.value)
    assert "'Nope'" in message and "'Price by market'" in message and "'Table'" in message
    assert lw.admin_key not in message
    with pytest.raises(ConfigError, match="visualization must be"):
        wp.plot(qid, 1.5, **opts)


def test_the_accessor_draws_a_frame_already_read(lw, opts, read):
    qid = lw.demo.queries["price_history"]
    frame = read(qid)
    fig = frame.watch.plot(api_key=lw.admin_key)
    assert fig.layout.title.text == "Price by market"
    assert lw.admin_key not in fig.to_json()
    counter = read(lw.demo.queries["markets"]).watch.plot(api_key=lw.admin_key)
    assert counter.value == "8"
    with pytest.raises(ConfigError, match="read_watch_query"):
        pd.DataFrame({"a": [1]}).watch.plot()
