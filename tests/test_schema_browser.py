"""watch_pandas.schema(): a plain (table, column, type) frame for code, a searchable browser
in a notebook and text without ipywidgets; against the demo server over HTTP."""

from __future__ import annotations

import sys

import pandas as pd
import pytest

import watch_pandas
from watch_pandas.errors import NotFoundError
from watch_pandas.testing import LocalWatch


@pytest.fixture
def frame(local_watch_demo: LocalWatch) -> pd.DataFrame:
    lw = local_watch_demo
    return watch_pandas.schema("demo-typed", url=lw.url, api_key=lw.admin_key)


def test_returns_a_table_column_type_frame(frame: pd.DataFrame):
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == ["table", "column", "type"]
    rows = set(frame.itertuples(index=False, name=None))
    assert ("prices", "price", "double precision") in rows
    assert ("positions", "opened_at_tz", "timestamp with time zone") in rows
    assert sorted(set(frame["table"])) == ["markets", "positions", "prices"]
    # anything computed from it is a plain DataFrame (the display is only on the result)
    assert type(frame[frame["table"] == "prices"]) is pd.DataFrame
    assert type(frame.head()) is pd.DataFrame


def test_untyped_source_has_no_types(local_watch_demo: LocalWatch):
    lw = local_watch_demo
    frame = watch_pandas.schema("demo-sqlite", url=lw.url, api_key=lw.admin_key)
    assert frame["type"].isna().all()
    assert "symbol" in set(frame.loc[frame["table"] == "markets", "column"])


def test_unknown_source_is_a_typed_error(local_watch_demo: LocalWatch):
    lw = local_watch_demo
    with pytest.raises(NotFoundError, match="demo-typed"):
        watch_pandas.schema("nope", url=lw.url, api_key=lw.admin_key)


def test_browser_filters_tables_and_columns_as_you_type(frame, local_watch_demo: LocalWatch):
    from watch_pandas._schema_browser import browser

    box = browser(frame)
    search, table = box.children
    assert "markets" in table.value and "volume_usd" in table.value
    search.value = "volume"
    assert "volume_usd" in table.value
    assert "symbol" not in table.value and "markets" not in table.value
    search.value = "markets"  # a table name shows all its columns
    assert "symbol" in table.value and "chain" in table.value
    assert local_watch_demo.admin_key not in repr(box.get_state())


def test_text_without_ipywidgets(frame, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ipywidgets", None)
    frame._ipython_display_()
    out = capsys.readouterr().out
    assert "prices" in out and "volume_usd" in out and "double precision" in out
    assert "pip install 'watch-pandas[jupyter]'" in out
