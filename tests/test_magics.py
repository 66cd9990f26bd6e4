"""``%watch`` / ``%%watch`` through a real embedded IPython shell against the local server."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from IPython.core.error import UsageError
from traitlets import TraitError

from watch_pandas import magics as M
from watch_pandas.errors import QueryFailedError, ServerError


@pytest.fixture(scope="module")
def server(demo_params_server):
    return demo_params_server


@pytest.fixture
def ip(server, magic_shell):
    """The embedded shell with a fresh WatchMagic pointed at the local server."""
    return magic_shell(server)


def _magic(shell) -> M.WatchMagic:
    return shell.magics_manager.registry["WatchMagic"]


# -- %config -----------------------------------------------------------------------------------
def test_config_lists_the_options(ip, capsys):
    ip.run_line_magic("config", "WatchMagic")
    listing = capsys.readouterr().out

    for option in ("profile", "url", "data_source", "max_age", "progress", "timeout"):
        assert f"WatchMagic.{option}" in listing
    assert "WatchMagic.dtype_backend" in listing


def test_config_sets_an_option_on_the_loaded_magic(ip):
    ip.run_line_magic("config", "WatchMagic.max_age = 0")
    ip.run_line_magic("config", "WatchMagic.data_source = 'db'")

    assert _magic(ip).max_age == 0
    assert _magic(ip).data_source == "db"


def test_config_refuses_a_bad_value(ip):
    ip.run_line_magic("config", "WatchMagic.dtype_backend = 'pyarrow'")
    ip.run_line_magic("config", "WatchMagic.dtype_backend = 'arrowish'")  # traitlets logs it

    assert _magic(ip).dtype_backend == "pyarrow"


def test_load_ext_registers_once(ip):
    import watch_pandas

    watch_pandas.load_ipython_extension(ip)
    M.load_ipython_extension(ip)

    assert sum(isinstance(c, M.WatchMagic) for c in ip.configurables) == 1
    assert "watch" in ip.magics_manager.magics["line"]
    assert "watch" in ip.magics_manager.magics["cell"]


# -- %%watch -----------------------------------------------------------------------------------
def test_cell_runs_sql_and_assigns_the_frame(ip):
    result = ip.run_cell_magic(
        "watch", "frame --data-source db", "SELECT id, label FROM demo ORDER BY id"
    )

    assert result is None
    frame = ip.user_ns["frame"]
    assert frame["id"].tolist() == [1, 2, 3]
    assert frame["label"].tolist() == ["item-a", "item-b", "other"]


def test_cell_returns_the_frame_without_a_variable_and_uses_the_default_source(ip):
    ip.run_line_magic("config", "WatchMagic.data_source = 'db'")

    frame = ip.run_cell_magic("watch", "", "SELECT count(*) AS n FROM demo")

    assert isinstance(frame, pd.DataFrame)
    assert frame["n"].tolist() == [3]


def test_cell_data_source_by_id(ip, server):
    frame = ip.run_cell_magic("watch", f"-d {server.source_id}", "SELECT 7 AS x")
    assert frame["x"].tolist() == [7]


@pytest.mark.parametrize("kind", ["name", "id"])
def test_cell_data_source_from_a_dollar_variable(ip, server, kind):
    ip.user_ns["SOURCE"] = "db" if kind == "name" else server.source_id
    frame = ip.run_cell_magic("watch", "--data-source $SOURCE", "SELECT 7 AS x")
    assert frame["x"].tolist() == [7]


def test_an_undefined_dollar_data_source_names_the_variable(ip):
    with pytest.raises(UsageError, match=r"\$NOPE is not defined"):
        ip.run_cell_magic("watch", "--data-source $NOPE", "SELECT 7 AS x")


def test_param_dollar_variable_keeps_its_python_value(ip):
    ip.user_ns["start"] = date(2024, 3, 5)

    frame = ip.run_cell_magic(
        "watch",
        "--data-source db --param since=$start --max-age 0",
        "SELECT id FROM demo WHERE d >= '{{ since }}' ORDER BY id",
    )

    assert frame["id"].tolist() == [2, 3]
    watch = frame.attrs["watch"]
    assert watch["parameters"] == {"since": "2024-03-05"}  # sent as parameters, not pasted
    assert "'2024-03-05'" in watch["sql"]  # substituted by the server


def test_params_expression_and_param_override(ip):
    ip.user_ns["my_params"] = {"low": 10, "high": 30}

    frame = ip.run_cell_magic(
        "watch",
        "-d db --params $my_params --param high=100",
        "SELECT id FROM demo WHERE price BETWEEN {{ low }} AND {{ high }} ORDER BY id",
    )
    assert frame["id"].tolist() == [2, 3]

    frame = ip.run_cell_magic(
        "watch",
        '-d db --params "dict(low=0, high=10)"',
        "SELECT id FROM demo WHERE price BETWEEN {{ low }} AND {{ high }} ORDER BY id",
    )
    assert frame["id"].tolist() == [1]


def test_repeated_param_sends_a_list(ip):
    frame = ip.run_cell_magic(
        "watch",
        "-d db -p ids=1 -p ids=3",
        "SELECT id FROM demo WHERE id IN ({{ ids }}) ORDER BY id",
    )
    assert frame["id"].tolist() == [1, 3]
    assert frame.attrs["watch"]["parameters"] == {"ids": ["1", "3"]}


def test_dotted_params_make_a_range(ip):
    ip.user_ns["low"] = 1
    frame = ip.run_cell_magic(
        "watch",
        "-d db -p band.start=$low -p band.end=3",
        "SELECT id FROM demo WHERE id BETWEEN {{ band.start }} AND {{ band.end }} ORDER BY id",
    )
    assert frame["id"].tolist() == [1, 2, 3]
    assert frame.attrs["watch"]["parameters"] == {"band": {"start": 1, "end": "3"}}


def test_a_name_given_as_value_and_range_is_a_usage_error(ip):
    with pytest.raises(UsageError, match="both as a value and as a range"):
        ip.run_cell_magic("watch", "-d db -p band=1 -p band.start=2", "SELECT {{ band }}")


@pytest.mark.parametrize(
    ("line", "sql", "sent"),
    [
        ("-d db --param p.foo=1", "SELECT '{{ p.foo }}' AS d", {"p": {"foo": "1"}}),
        ('-d db --param "my param=y"', "SELECT '{{ my param }}' AS d", {"my param": "y"}),
        ('-d db -p " spaced = z"', "SELECT '{{spaced}}' AS d", {"spaced": " z"}),
    ],
)
def test_any_name_the_server_renders_is_a_param_name(ip, line, sql, sent):
    """A placeholder's name is any text between the braces, trimmed; a dotted one nests."""
    frame = ip.run_cell_magic("watch", line, sql)
    assert frame.attrs["watch"]["parameters"] == sent
    assert frame["d"].tolist() == [next(iter(_leaves(sent)))]


def _leaves(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    else:
        yield value


def test_dollar_text_in_the_sql_is_left_alone(ip):
    ip.user_ns["start"] = "NOT-USED"
    frame = ip.run_cell_magic("watch", "-d db", "SELECT '$start' AS s")
    assert frame["s"].tolist() == ["$start"]


def test_cell_output_arrow_and_polars(ip):
    import polars as pl
    import pyarrow as pa

    ip.run_cell_magic("watch", "frame -d db --output arrow", "SELECT id FROM demo ORDER BY id")
    table = ip.user_ns["frame"]
    assert isinstance(table, pa.Table)
    assert table.column("id").to_pylist() == [1, 2, 3]
    df = ip.run_cell_magic("watch", "-d db --output polars", "SELECT id FROM demo ORDER BY id")
    assert isinstance(df, pl.DataFrame)
    assert df["id"].to_list() == [1, 2, 3]


def test_line_output_arrow(ip, server):
    import pyarrow as pa

    table = ip.run_line_magic("watch", f"{server.demo_query} min_price=0 --output arrow")
    assert isinstance(table, pa.Table)
    assert table.column("id").to_pylist() == [1, 2]


def test_interactive_with_another_output_is_refused(ip, server):
    with pytest.raises(UsageError, match="--interactive.*pandas"):
        ip.run_line_magic("watch", f"{server.demo_query} -i --output arrow")


@pytest.mark.parametrize("magic", ["line", "cell"])
def test_a_bad_output_is_a_usage_error_naming_the_choices(ip, server, magic):
    with pytest.raises(UsageError, match="pandas.*arrow.*polars"):
        if magic == "line":
            ip.run_line_magic("watch", f"{server.demo_query} --output numpy")
        else:
            ip.run_cell_magic("watch", "-d db --output numpy", "SELECT 1")


# -- %watch ------------------------------------------------------------------------------------
def test_line_reads_a_saved_query_with_parameters(ip, server):
    result = ip.run_line_magic(
        "watch",
        f"{server.demo_query} frame start_date=2024-03-05 min_price=20 label=it --max-age 0",
    )

    assert result is None
    frame = ip.user_ns["frame"]
    assert frame["id"].tolist() == [2]
    assert frame.attrs["watch"]["parameters"] == {
        "start_date": "2024-03-05",
        "min_price": 20,
        "flag": "1",
        "label": "it",
    }


def test_line_takes_a_params_dict_and_pairs_win(ip, server):
    ip.user_ns["chosen"] = {"start_date": date(2024, 3, 5), "min_price": 0, "label": "x"}
    frame = ip.run_line_magic("watch", f"{server.demo_query} --params $chosen label=it --max-age 0")
    assert frame.attrs["watch"]["parameters"] == {
        "start_date": "2024-03-05",
        "min_price": 0,
        "flag": "1",
        "label": "it",
    }


def test_line_returns_the_frame_and_takes_variables(ip, server):
    ip.user_ns["start"] = date(2024, 3, 1)
    frame = ip.run_line_magic("watch", f"{server.demo_query} start_date=$start min_price=0")

    assert isinstance(frame, pd.DataFrame)
    assert frame["id"].tolist() == [1, 2]  # flag defaults to 1, label to 'item'


def test_interactive_shows_a_prefilled_picker_that_assigns_the_variable(ip, server):
    from watch_pandas.widgets import QueryPicker

    picker = ip.run_line_magic("watch", f"{server.demo_query} frame min_price=30 --interactive")

    assert isinstance(picker, QueryPicker)
    assert picker.fields["min_price"].controls[0].value == "30"
    picker.fields["flag"].controls[0].value = "0"
    picker.fields["label"].controls[0].value = ""
    picker.run(wait=True)
    assert picker.error is None, picker.message.value
    assert ip.user_ns["frame"]["id"].tolist() == [3]
    picker.close()


@pytest.mark.parametrize(
    ("typed", "sent", "ids"),
    [("5.5", 5.5, [2]), ("5", 5, [1, 2]), ("12345678901234567891", 12345678901234567891, [])],
)
def test_line_numbers_reach_the_server_as_written(ip, server, typed, sent, ids):
    frame = ip.run_line_magic("watch", f"{server.demo_query} min_price={typed} --max-age 0")

    assert frame.attrs["watch"]["parameters"]["min_price"] == sent
    assert type(frame.attrs["watch"]["parameters"]["min_price"]) is type(sent)
    assert f">= {typed}\n" in frame.attrs["watch"]["sql"]  # the server's own SQL
    assert frame["id"].tolist() == ids


def test_interactive_prefills_a_decimal_number_and_runs_it_unchanged(ip, server):
    picker = ip.run_line_magic("watch", f"{server.demo_query} frame min_price=5.5 --interactive")

    assert picker.fields["min_price"].controls[0].value == "5.5"
    picker.run(wait=True)
    assert picker.error is None, picker.message.value
    assert ip.user_ns["frame"].attrs["watch"]["parameters"]["min_price"] == 5.5
    assert ip.user_ns["frame"]["id"].tolist() == [2]
    picker.close()


def test_interactive_shows_a_bad_prefill_next_to_its_field(ip, server):
    picker = ip.run_line_magic("watch", f"{server.demo_query} --interactive flag=7")

    assert "is not one of the options" in picker.fields["flag"].error.value
    assert picker.run() is False
    picker.close()


# -- mistakes are one-line UsageErrors ---------------------------------------------------------
@pytest.mark.parametrize(
    ("line", "cell", "expected"),
    [
        ("--bogus 1", "SELECT 1", "unrecognized arguments: --bogus"),
        ("--data-source db --max-age soon", "SELECT 1", "--max-age"),
        ("", "SELECT 1", "no data source"),
        ("--data-source nowhere", "SELECT 1", "No data source 'nowhere'"),
        ("-d db", "   ", "the cell is empty"),
        ("-d db --param =3", "SELECT 1", "is not NAME=VALUE"),
        ("-d db --param x=$undefined_thing", "SELECT {{ x }}", r"\$undefined_thing is not"),
        ("-d db --params 41+1", "SELECT 1", "must be a dict"),
        ("-d db --params nope(", "SELECT 1", "could not be evaluated"),
        ("-d db", "SELECT {{ x }}", "The SQL needs a value for 'x'"),
        ("not-a-name -d db", "SELECT 1", "not a valid variable name"),
    ],
)
def test_cell_usage_errors(ip, line, cell, expected):
    with pytest.raises(UsageError, match=expected):
        ip.run_cell_magic("watch", line, cell)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("", "give a query id"),
        ("abc", "must be a number"),
        ("{q} frame other", "unexpected 'other'"),
        ("{q} flag=7", "'7' is not one of the options"),
        ("{q} min_prise=3", "Did you mean 'min_price'"),
        ("999999", "999999"),
        ("{q} --frobnicate", "unrecognized arguments"),
    ],
)
def test_line_usage_errors(ip, server, line, expected):
    with pytest.raises(UsageError, match=expected):
        ip.run_line_magic("watch", line.format(q=server.demo_query))


@pytest.mark.parametrize(
    ("line", "cell"),
    [
        ("-d db --param =3", "SELECT 1"),
        ("-d db --param .start=3", "SELECT {{ x.start }}"),
        ("-d db --param x=$undefined_thing", "SELECT {{ x }}"),
        ("-d db --params 41+1", "SELECT 1"),
        ("-d db -p band=1 -p band.start=2", "SELECT {{ band }}"),
        ("not-a-name -d db", "SELECT 1"),
        ("--bogus 1", "SELECT 1"),
    ],
)
def test_cell_usage_errors_name_the_cell_magic(ip, line, cell):
    with pytest.raises(UsageError) as info:
        ip.run_cell_magic("watch", line, cell)
    assert str(info.value).startswith("%%watch: ")


def test_a_saved_query_parameter_with_a_space_is_given_quoted(ip, server):
    query_id = server.add_query(
        "SELECT '{{ my param }}' AS d",
        data_source_id=server.source_id,
        name="spaced",
        parameters=[{"name": "my param", "title": "My param", "type": "text", "value": "a"}],
    )
    frame = ip.run_line_magic("watch", f'{query_id} "my param=3" --max-age 0')
    assert frame["d"].tolist() == ["3"]
    assert frame.attrs["watch"]["parameters"] == {"my param": "3"}


@pytest.mark.parametrize(
    "run",
    [
        lambda ip, q: ip.run_line_magic("watch", f"{q} frame --max-age -1"),
        lambda ip, q: ip.run_line_magic("watch", f"{q} --max-age -2"),
        lambda ip, q: ip.run_line_magic("watch", f"{q} --max-age soon --interactive"),
        lambda ip, q: ip.run_cell_magic("watch", "-d db --max-age -1", "SELECT 1"),
    ],
)
def test_a_negative_max_age_is_refused_with_how_to_ask_for_any_age(ip, server, run):
    with pytest.raises(UsageError) as info:
        run(ip, server.demo_query)
    message = str(info.value)
    assert "argument --max-age: the value must be a whole number of seconds >= 0" in message
    assert message.endswith("for a cached result of any age, leave --max-age out.")
    assert "frame" not in ip.user_ns


def test_a_negative_configured_max_age_is_refused_when_set(ip, server, caplog):
    magic = _magic(ip)
    with pytest.raises(TraitError) as info:
        magic.max_age = -1
    assert str(info.value) == (
        "WatchMagic.max_age must be a whole number of seconds >= 0 (such as 600; 0 always runs "
        "the query), not -1; for a cached result of any age, set it to None."
    )
    magic.max_age = 600
    with caplog.at_level("ERROR"):
        ip.run_line_magic("config", "WatchMagic.max_age = -5")
    assert "WatchMagic.max_age must be a whole number of seconds >= 0" in caplog.text
    assert magic.max_age == 600  # the earlier value stays, so later reads still work
    query_id = server.add_query("SELECT 1 AS n", data_source_id=server.source_id, name="one")
    frame = ip.run_line_magic("watch", str(query_id))
    assert frame["n"].tolist() == [1]


def test_offline_interactive_never_touches_the_network(ip, server, monkeypatch):
    monkeypatch.setenv("WATCH_OFFLINE", "1")
    server.counters.reset()
    with pytest.raises(UsageError, match="has never been read online"):
        ip.run_line_magic("watch", f"{server.demo_query} --interactive")
    assert server.counters.requests() == 0


def test_missing_configuration_is_a_one_line_usage_error(ip, monkeypatch):
    monkeypatch.delenv("WATCH_API_KEY")
    with pytest.raises(UsageError, match="WATCH_API_KEY") as caught:
        ip.run_cell_magic("watch", "-d db", "SELECT 1")
    assert "\n" not in str(caught.value)
    assert "%config WatchMagic.profile" in str(caught.value)


def test_usage_error_prints_one_line_without_traceback(ip, capsys):
    ip.run_cell("%watch abc")
    captured = capsys.readouterr()
    text = captured.out + captured.err

    assert "UsageError" in text and "must be a number" in text
    assert "Traceback" not in text
    assert len([line for line in text.splitlines() if line.strip()]) == 1


# -- failed queries stop the cell: one line (the server's message, the link), no traceback ------
def _failure(ip, run) -> M.WatchMagicError:
    """Run a magic that must fail; return its error after checking it shows as one line."""
    with pytest.raises(M.WatchMagicError) as caught:
        run()
    shown = caught.value._render_traceback_()
    assert len(shown) == 1 and "\n" not in shown[0] and shown[0].startswith("watch: ")
    return caught.value


def test_failed_sql_stops_the_cell_with_the_server_message(ip, server):
    error = _failure(ip, lambda: ip.run_cell_magic("watch", "frame -d db", "SELEC id FROM demo"))

    assert "frame" not in ip.user_ns
    assert "the query failed" in str(error) and "syntax error" in str(error)
    assert str(error).endswith("syntax error. frame was not assigned.")
    assert isinstance(error.__cause__, QueryFailedError)  # kept for debugging, not shown
    assert server.admin_key not in str(error)


def test_failed_saved_query_stops_the_cell_with_the_link(ip, server):
    query_id = server.add_query("SELEC broken", data_source_id=server.source_id, name="broken")

    error = _failure(ip, lambda: ip.run_line_magic("watch", f"{query_id} --max-age 0"))

    assert "syntax error" in str(error)
    assert f"{server.url}/queries/{query_id}" in str(error)
    assert "not assigned" not in str(error)  # no variable was asked for
    assert server.admin_key not in str(error)


def test_a_failure_leaves_an_earlier_value_in_place_and_says_so(ip, server):
    server.fail_query("FROM demo", "no such table: demo")
    ip.user_ns["frame"] = "earlier"
    try:
        error = _failure(
            ip, lambda: ip.run_line_magic("watch", f"{server.demo_query} frame --max-age 0")
        )
    finally:
        server.clear_failures()

    assert ip.user_ns["frame"] == "earlier"
    assert "no such table: demo" in str(error)
    assert "frame was not assigned (it keeps its earlier value)" in str(error)


def test_a_database_message_over_several_lines_is_shown_on_one(ip, server):
    server.fail_query("FROM demo", 'syntax error at or near "SELEC"\nLINE 1: SELEC\n        ^')
    try:
        error = _failure(ip, lambda: ip.run_line_magic("watch", f"{server.demo_query} frame"))
    finally:
        server.clear_failures()

    assert 'the query failed: syntax error at or near "SELEC" LINE 1: SELEC ^ (' in str(error)


def test_a_failed_cell_shows_one_line_and_fails_the_run(ip, server, capsys):
    query_id = server.add_query("SELEC broken", data_source_id=server.source_id, name="broken")

    result = ip.run_cell(f"%watch {query_id} frame --max-age 0")
    captured = capsys.readouterr()
    text = captured.out + captured.err

    assert not result.success  # "Run All" and papermill stop here
    assert isinstance(result.error_in_exec, M.WatchMagicError)
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("watch: the query failed"), text
    assert "Traceback" not in text and server.admin_key not in text


def test_a_server_failure_stops_the_cell_with_one_line(ip, server):
    server.faults.fail_next(1, status=500, path="/api/query_results", method="POST")

    error = _failure(ip, lambda: ip.run_cell_magic("watch", "frame -d db", "SELECT 1 AS x"))

    assert "500" in str(error) and isinstance(error.__cause__, ServerError)
    assert str(error).endswith("). frame was not assigned."), str(error)
    assert server.admin_key not in str(error)


def test_a_server_failure_opening_the_picker_is_one_line(ip, server):
    server.faults.fail_next(1, status=500, path=f"/api/queries/{server.demo_query}", method="GET")

    error = _failure(ip, lambda: ip.run_line_magic("watch", f"{server.demo_query} --interactive"))

    assert "500" in str(error) and server.admin_key not in str(error)


def test_progress_option_off_reaches_the_read(ip, monkeypatch):
    seen = []

    def fake_run_sql(sql, data_source, params=None, **kwargs):
        seen.append(kwargs["progress"])
        return pd.DataFrame({"x": [1]})

    monkeypatch.setattr("watch_pandas._api.run_sql", fake_run_sql)
    ip.run_cell_magic("watch", "-d db", "SELECT 1 AS x")
    ip.run_line_magic("config", "WatchMagic.progress = False")
    ip.run_cell_magic("watch", "-d db", "SELECT 1 AS x")

    assert seen == [None, False]  # None: automatic (widget or text line); False: off


def test_cell_sql_runs_by_default_and_line_reads_accept_the_servers_cache(ip, monkeypatch):
    seen = []

    def fake_run_sql(sql, data_source, params=None, **kwargs):
        seen.append(("cell", kwargs["max_age"]))
        return pd.DataFrame({"x": [1]})

    def fake_read(query_id, params=None, **kwargs):
        seen.append(("line", kwargs["max_age"]))
        return pd.DataFrame({"x": [1]})

    monkeypatch.setattr("watch_pandas._api.run_sql", fake_run_sql)
    monkeypatch.setattr("watch_pandas._api.read_watch_query", fake_read)
    ip.run_cell_magic("watch", "-d db", "SELECT 1 AS x")
    ip.run_line_magic("watch", "5")
    ip.run_cell_magic("watch", "-d db --max-age 60", "SELECT 1 AS x")
    ip.run_line_magic("config", "WatchMagic.max_age = 600")
    ip.run_cell_magic("watch", "-d db", "SELECT 1 AS x")
    ip.run_line_magic("watch", "5")

    assert seen == [
        ("cell", 0),  # unset: the SQL runs, as the web UI's Execute does
        ("line", None),  # unset: a saved query's cached result of any age
        ("cell", 60),
        ("cell", 600),
        ("line", 600),
    ]


def test_cell_offline_is_served_from_the_local_cache_without_the_network(ip, server, monkeypatch):
    sql = "SELECT id FROM demo WHERE id <= {{ n }} ORDER BY id"
    online = ip.run_cell_magic("watch", "-d db --param n=2", sql)
    monkeypatch.setenv("WATCH_OFFLINE", "1")
    server.counters.reset()

    offline = ip.run_cell_magic("watch", "-d db --param n=2", sql)

    assert offline.attrs["watch"]["source"] == "local cache"
    pd.testing.assert_frame_equal(offline, online)
    assert server.counters.requests() == 0
    with pytest.raises(UsageError, match="no cached copy"):
        ip.run_cell_magic("watch", "-d db --param n=3", sql)
    assert server.counters.requests() == 0


def test_offline_misses_in_a_notebook_name_what_the_notebook_can_set(ip, server, monkeypatch):
    monkeypatch.setenv("WATCH_OFFLINE", "1")
    with pytest.raises(UsageError, match=r"unset \$WATCH_OFFLINE") as line_miss:
        ip.run_line_magic("watch", str(server.demo_query))
    with pytest.raises(UsageError, match=r"unset \$WATCH_OFFLINE") as cell_miss:
        ip.run_cell_magic("watch", "-d db --max-age 60", "SELECT 7 AS never_run")
    for caught in (line_miss, cell_miss):
        assert "offline=" not in str(caught.value) and "max_age=" not in str(caught.value)


def test_a_pasted_page_url_names_the_magics_url_setting(ip, server):
    ip.run_line_magic("config", f"WatchMagic.url = '{server.url}/queries/{server.demo_query}'")
    with pytest.raises(UsageError) as caught:
        ip.run_line_magic("watch", str(server.demo_query))
    message = str(caught.value)
    assert f"%config WatchMagic.url = '{server.url}'" in message
    assert "url=" not in message.replace("WatchMagic.url =", "")
    assert "api_key=" not in message


def test_a_link_is_read_like_its_query_and_assigned(ip, server):
    ip.run_line_magic("watch", f"{server.demo_query} frame")
    by_id = ip.user_ns.pop("frame")
    link = f"{server.url}/queries/{server.demo_query}/source#3"
    ip.run_line_magic("watch", f"{link} frame")
    pd.testing.assert_frame_equal(ip.user_ns["frame"], by_id)


def test_a_link_with_a_wrong_key_fails_in_one_line_without_the_key(ip, server):
    link = f"{server.url}/queries/{server.demo_query}/source?api_key=SECRET-KEY-1"
    with pytest.raises(UsageError) as caught:
        ip.run_line_magic("watch", f"{link} frame")
    message = str(caught.value)
    assert "key in this link" in message
    assert "SECRET-KEY-1" not in message
    assert "frame" not in ip.user_ns


def test_a_link_of_no_known_form_lists_the_forms(ip, server):
    with pytest.raises(UsageError) as caught:
        ip.run_line_magic("watch", f"{server.url}/queries/new?api_key=SECRET-KEY-1")
    message = str(caught.value)
    assert "/api/query_results/<id>" in message and "SECRET-KEY-1" not in message


@pytest.mark.parametrize("magic", ["line", "cell"])
def test_an_unquoted_params_dict_says_to_quote_it_or_pass_a_variable(ip, server, magic):
    line = '--params {"min_price": 5}'
    with pytest.raises(UsageError) as caught:
        if magic == "line":
            ip.run_line_magic("watch", f"{server.demo_query} {line}")
        else:
            ip.run_cell_magic("watch", f"-d db {line}", "SELECT {{ min_price }} AS p")
    message = str(caught.value)
    assert "quote it" in message and "$my_params" in message and "'5}' is not" not in message


def test_a_quoted_params_dict_is_read(ip):
    frame = ip.run_cell_magic("watch", "-d db --params '{\"n\": 2}'", "SELECT {{ n }} AS n")
    assert frame["n"].tolist() == [2]
