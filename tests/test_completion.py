"""Tab completion in %%watch / %watch through IPython's completer API, against the demo server
over HTTP: tables, columns of the tables the cell mentions, data source names, query ids."""

from __future__ import annotations

import logging

import pytest
from IPython.core.completer import provisionalcompleter
from IPython.core.interactiveshell import InteractiveShell

from watch_pandas import magics as M
from watch_pandas.testing import LocalWatch


@pytest.fixture
def ip(local_watch_demo: LocalWatch, monkeypatch, tmp_path):
    lw = local_watch_demo
    monkeypatch.setenv("WATCH_CONFIG", str(tmp_path / "no-config.toml"))
    monkeypatch.delenv("WATCH_URL", raising=False)
    monkeypatch.delenv("WATCH_PROFILE", raising=False)
    monkeypatch.setenv("WATCH_API_KEY", lw.admin_key)
    shell = InteractiveShell.instance()
    shell.config.pop("WatchMagic", None)
    M.load_ipython_extension(shell)
    shell.run_line_magic("config", f"WatchMagic.url = {lw.url!r}")
    yield shell
    shell.config.pop("WatchMagic", None)
    M.unload_ipython_extension(shell)


def complete(ip, text: str) -> list[str]:
    """What Tab at the end of ``text`` offers."""
    with provisionalcompleter():
        return [c.text for c in ip.Completer.completions(text, len(text))]


def test_table_names_from_the_cells_data_source(ip):
    offered = complete(ip, "%%watch --data-source demo-typed\nSELECT * FROM pri")
    assert "prices" in offered
    assert "positions" not in offered  # does not match the typed prefix


def test_columns_of_the_tables_the_cell_mentions(ip):
    assert "volume_usd" not in complete(ip, "%%watch -d demo-typed\nSELECT vol")
    text = "%%watch -d demo-typed\nSELECT symbol, vol"
    full = text + "\nFROM prices p JOIN markets m ON m.id = p.market_id"
    with provisionalcompleter():  # Tab in the middle of the cell
        offered = [c.text for c in ip.Completer.completions(full, len(text))]
    assert "volume_usd" in offered
    assert "amount_wei" not in offered  # a column of a table the cell does not mention
    assert "prices.volume_usd" in complete(ip, "%%watch -d demo-typed\nSELECT prices.vol")


def test_the_default_data_source_is_used(ip):
    ip.run_line_magic("config", "WatchMagic.data_source = 'demo-sqlite'")
    assert "markets" in complete(ip, "%%watch\nSELECT * FROM mar")


def test_schema_is_fetched_once_per_session_and_refreshed_on_request(ip, local_watch_demo):
    lw = local_watch_demo
    complete(ip, "%%watch -d demo-sqlite\nSELECT * FROM ma")
    route = ("GET", "/api/data_sources/<id>/schema")
    before = lw.counters.requests(*route)
    complete(ip, "%%watch -d demo-sqlite\nSELECT * FROM pr")
    assert lw.counters.requests(*route) == before
    ds = lw.demo.data_sources["sqlite"]
    lw.execute_sql(ds, "CREATE TABLE IF NOT EXISTS zz_completion_probe (x INTEGER)")
    try:
        cell = "%%watch -d demo-sqlite\nSELECT * FROM zz"
        assert "zz_completion_probe" not in complete(ip, cell)
        ip.run_line_magic("watch_schema", "demo-sqlite --refresh")
        assert "zz_completion_probe" in complete(ip, cell)
    finally:
        lw.execute_sql(ds, "DROP TABLE zz_completion_probe")


def test_data_source_names_after_the_option(ip):
    offered = complete(ip, "%%watch --data-source demo-")
    assert {"demo-sqlite", "demo-typed"} <= set(offered)


def test_query_ids_for_the_line_magic(ip, local_watch_demo):
    prices = local_watch_demo.demo.queries["prices"]
    assert str(prices) in complete(ip, f"%watch {str(prices)[0]}")
    assert str(prices) in complete(ip, "%watch Daily")  # by name


def test_other_cells_are_left_to_ipython(ip):
    assert "prices" not in complete(ip, "pri")


def completions(ip, text: str):
    with provisionalcompleter():
        return list(ip.Completer.completions(text, len(text)))


def test_query_ids_come_in_numeric_order_with_their_names(ip, local_watch_demo):
    offered = completions(ip, "%watch ")
    ids = [int(c.text) for c in offered]
    assert len(ids) >= 12  # the demo has ids 1..9 and 10.. : a text sort puts 10 before 2
    assert ids == sorted(ids)
    prices = local_watch_demo.demo.queries["prices"]
    shown = {c.text: c.type for c in offered}
    assert shown[str(prices)] == "query: Daily prices"  # the name beside the id
    by_name = completions(ip, "%watch Pri")
    assert [c.text for c in by_name] == sorted((c.text for c in by_name), key=int)
    assert all("pri" in c.type.lower() for c in by_name)


@pytest.mark.parametrize(
    "cell",
    ["%%watch --data-source nosuch\nSELECT * FROM ma", "%%watch\nSELECT * FROM ma"],
    ids=["unknown", "none-configured"],
)
def test_sql_without_a_usable_data_source_offers_nothing_and_says_why(ip, caplog, cell):
    with caplog.at_level(logging.DEBUG, logger="watch_pandas"):
        offered = completions(ip, cell)
    # nothing to insert: no magic names (%macro, %magic...), no Python names
    assert [c.text for c in offered if c.text != "ma"] == []
    why = [r.getMessage() for r in caplog.records if "completion" in r.getMessage()]
    assert why, "the reason is logged at debug level"
    assert ("nosuch" in why[-1]) if "nosuch" in cell else ("no data source" in why[-1])


def test_sql_that_matches_no_table_or_column_offers_nothing_either(ip):
    offered = completions(ip, "%%watch -d demo-typed\nSELECT * FROM ma")
    assert "%magic" not in [c.text for c in offered]
    assert "markets" in [c.text for c in offered]
    offered = completions(ip, "%%watch -d demo-typed\nSELECT * FROM mag")
    assert [c.text for c in offered if c.text != "mag"] == []
