"""The ``watch-pandas`` command through ``cli.main([...])`` against the local demo server."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from watch_pandas._cli import main
from watch_pandas.testing import LocalWatch

_ENV = ("WATCH_URL", "WATCH_API_KEY", "WATCH_PROFILE")


@pytest.fixture
def no_config(monkeypatch, tmp_path):
    """No server configured anywhere: no env variables, a config file that does not exist."""
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WATCH_CONFIG", str(tmp_path / "missing.toml"))
    monkeypatch.setenv("WATCH_CACHE_DIR", str(tmp_path / "watch-cache"))  # not the user's cache


@pytest.fixture
def env(no_config, monkeypatch, local_watch_demo: LocalWatch) -> LocalWatch:
    """The demo server configured through WATCH_URL / WATCH_API_KEY."""
    monkeypatch.setenv("WATCH_URL", local_watch_demo.url)
    monkeypatch.setenv("WATCH_API_KEY", local_watch_demo.admin_key)
    return local_watch_demo


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("watch-pandas: error: ")
    return lines[0]


def test_demo_without_watch_url_uses_the_local_server(no_config, capsys):
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "starting the local Watch server" in out
    assert "first read: fresh run" in out
    assert "again, without the local cache: server cache" in out
    assert "again: local cache" in out
    for column in ("day", "symbol", "price", "updated_at_tz"):
        assert column in out
    assert "datetime64[ms, UTC]" in out and "Float64" in out
    assert "result_id" in out and "retrieved_at" in out and "http://127.0.0.1:" in out


def test_demo_with_watch_url_needs_a_query_id(env, capsys):
    assert main(["demo"]) == 1
    assert "QUERY_ID" in _one_error_line(capsys.readouterr().err)


def test_get_prints_the_frame_and_provenance(env, capsys):
    qid = env.demo.queries["param_enum"]
    assert main(["get", str(qid), "-p", "chain=arbitrum"]) == 0
    out = capsys.readouterr().out
    assert "ARB" in out and "ÜNI" in out and "WETH" not in out
    assert "2 rows" in out
    assert "{'chain': 'arbitrum'}" in out
    assert env.admin_key not in out


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".json"])
def test_get_writes_a_file_that_reads_back(env, tmp_path, capsys, suffix):
    qid = env.demo.queries["price_history"]
    path = tmp_path / f"history{suffix}"
    code = main(["get", str(qid), "-p", "min_price=40000", "--max-age", "3600", "-o", str(path)])
    assert code == 0
    n_rows = int(capsys.readouterr().out.split("wrote ")[1].split(" rows")[0])
    if suffix == ".parquet":
        back = pd.read_parquet(path)
        assert str(back["price"].dtype) == "Float64"
        assert str(back["updated_at_tz"].dtype) == "datetime64[ms, UTC]"
    elif suffix == ".csv":
        back = pd.read_csv(path)
    else:
        back = pd.DataFrame(json.loads(path.read_text(encoding="utf-8")))
    assert len(back) == n_rows > 0
    assert set(back["symbol"]) == {"WBTC"}
    assert (back["price"] >= 40000).all()


@pytest.mark.parametrize("suffix", [".parquet", ".feather"])
def test_get_keeps_wei_amounts_exact_as_python_ints(env, tmp_path, capsys, suffix):
    import watch_pandas as wp

    path = tmp_path / f"positions{suffix}"
    assert main(["get", str(env.demo.queries["positions"]), "-o", str(path)]) == 0
    back = wp.read_parquet(path) if suffix == ".parquet" else wp.read_feather(path)
    assert back["amount_wei"].dtype == object
    assert back["amount_wei"].tolist()[-1] == 2**256 - 200
    plain = pd.read_parquet(path) if suffix == ".parquet" else pd.read_feather(path)
    assert plain["amount_wei"].tolist()[-1] == str(2**256 - 200)  # other tools: exact text


def test_get_rejects_an_unknown_output_suffix(env, tmp_path, capsys):
    code = main(["get", str(env.demo.queries["markets"]), "-o", str(tmp_path / "x.xlsx")])
    assert code == 1
    assert ".parquet, .feather, .csv or .json" in _one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["get", "99999"], ["99999", "not found"]),
        (["get", "{param_enum}", "-p", "chain=solana"], ["chain", "solana", "ethereum"]),
        (["get", "{param_enum}", "-p", "nonsense"], ["NAME=VALUE"]),
        (["get", "{failing}"], ["no such table: no_such_table"]),
    ],
    ids=["unknown-query", "bad-enum", "bad-param-syntax", "failing-query"],
)
def test_errors_are_one_line_with_non_zero_exit(env, capsys, args, words):
    args = [a.format(**env.demo.queries) for a in args]
    assert main(args) == 1
    captured = capsys.readouterr()
    line = _one_error_line(captured.err)
    for word in words:
        assert word in line
    assert env.admin_key not in captured.err + captured.out


def test_bad_key_is_one_line(env, monkeypatch, capsys):
    monkeypatch.setenv("WATCH_API_KEY", "wrong-key-123")
    assert main(["queries"]) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert "not accepted" in line and "wrong-key-123" not in line


def test_missing_configuration_is_one_line(no_config, capsys):
    assert main(["queries"]) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert "WATCH_URL" in line


def test_missing_configuration_names_all_three_ways(no_config, capsys):
    assert main(["queries"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("watch-pandas: error: ")
    for way in ("--url", "--profile", "WATCH_URL", "WATCH_API_KEY", "missing.toml"):
        assert way in err


def test_queries_lists_and_searches(env, capsys):
    assert main(["queries"]) == 0
    listed = capsys.readouterr().out
    assert "Daily prices" in listed and "Markets" in listed and "param date range" in listed
    assert main(["queries", "--search", "wei"]) == 0
    found = capsys.readouterr().out
    assert "Positions (wei)" in found
    assert "Daily prices" not in found


def test_queries_search_without_match(env, capsys):
    assert main(["queries", "--search", "zzz-no-such-query"]) == 0
    assert capsys.readouterr().out.strip() == "no queries"


@pytest.mark.parametrize("command", ["serve", "get", "queries", "demo"])
def test_help_of_each_command(command, capsys):
    with pytest.raises(SystemExit) as caught:
        main([command, "--help"])
    assert caught.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: watch-pandas {command}")
    if command == "serve":
        for option in ("--host", "--port", "--db", "--demo"):
            assert option in out


def test_no_command_prints_help_and_fails(capsys):
    assert main([]) == 2
    assert "serve" in capsys.readouterr().out


def test_an_unwritable_output_is_one_line(env, tmp_path, capsys):
    target = tmp_path / "missing-folder" / "x.csv"
    assert main(["get", str(env.demo.queries["markets"]), "-o", str(target)]) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert "missing-folder" in line


def test_a_reader_that_goes_away_ends_the_command_quietly(env, monkeypatch, capsys):
    """`watch-pandas get 6 | head`: the pipe closes while the frame is printed."""
    import watch_pandas._cli as cli

    def closed_pipe(frame):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(cli, "_show", closed_pipe)
    fds = Path("/proc/self/fd")
    before = len(list(fds.iterdir())) if fds.is_dir() else None
    code = main(["get", str(env.demo.queries["markets"])])
    assert code == 141  # what a tool killed by SIGPIPE reports
    assert capsys.readouterr().err == ""
    if before is not None:
        assert len(list(fds.iterdir())) <= before  # /dev/null is not left open


@pytest.mark.parametrize("port", ["99999", "65536", "-1", "http"])
def test_serve_refuses_a_port_outside_0_to_65535_in_one_line(port, monkeypatch, capsys):
    import watch_pandas.testing as testing

    def started(**options):
        raise AssertionError(f"a server was started with port={options['port']!r}")

    monkeypatch.setattr(testing, "serve", started)
    with pytest.raises(SystemExit) as caught:
        main(["serve", "--port", port])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("watch-pandas serve: error: argument --port: ")
    assert port in last and "0 to 65535" in last


@pytest.mark.parametrize("age", ["-5", "1.5", "soon", "-1"])
def test_get_refuses_a_bad_max_age_without_suggesting_none(env, age, capsys):
    """The command line cannot pass None: the message says how to ask for any age there."""
    env.counters.reset()
    with pytest.raises(SystemExit) as caught:
        main(["get", str(env.demo.queries["markets"]), "--max-age", age])
    assert caught.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("watch-pandas get: error: argument --max-age: ")
    assert repr(age) in last and "leave --max-age out" in last and "None" not in last
    # the words of every other entry point (read_watch_query, the magics, %config)
    assert "must be a whole number of seconds >= 0 (such as 600; 0 always runs the query)" in last
    assert env.counters.requests() == 0


def test_queries_offline_says_it_needs_the_server(env, monkeypatch, capsys):
    monkeypatch.setenv("WATCH_OFFLINE", "1")
    env.counters.reset()
    assert main(["queries"]) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert "offline" in line and "WATCH_OFFLINE" in line and "offline=" not in line
    assert env.counters.requests() == 0


@pytest.mark.parametrize(
    ("target", "words"),
    [
        ("o.xlsx", [".xlsx", ".parquet, .feather, .csv or .json"]),
        ("o", ["no suffix", ".parquet, .feather, .csv or .json"]),
        ("afile/o.csv", ["afile", "is a file, not a folder"]),
        ("nodir/o.parquet", ["nodir", "does not exist"]),
        ("adir", ["adir", "is a folder"]),
    ],
    ids=["unknown-suffix", "no-suffix", "parent-is-a-file", "missing-folder", "target-is-a-folder"],
)
def test_get_checks_the_output_path_before_running_the_query(env, tmp_path, capsys, target, words):
    """A typo in -o costs nothing: refused in one line before a request is sent."""
    (tmp_path / "afile").write_text("not a folder")
    (tmp_path / "adir.csv").mkdir()
    target = "adir.csv" if target == "adir" else target
    env.counters.reset()
    code = main(
        ["get", str(env.demo.queries["markets"]), "--max-age", "0", "-o", str(tmp_path / target)]
    )
    assert code == 1
    line = _one_error_line(capsys.readouterr().err)
    for word in words:
        assert word in line
    assert "-o" in line
    assert "non-existent" not in line and "errno" not in line.lower()
    assert env.counters.requests() == 0


def test_a_pasted_page_url_names_the_url_option(env, capsys):
    qid = env.demo.queries["markets"]
    env.counters.reset()
    assert main(["get", str(qid), "--url", f"{env.url}/queries/{qid}"]) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert f"--url {env.url} " in line and "$WATCH_API_KEY" in line
    assert "url=" not in line and "api_key=" not in line
    assert env.counters.requests() == 0


@pytest.mark.parametrize("timeout", ["0", "-3", "soon", "nan"])
def test_get_refuses_a_bad_timeout_without_suggesting_none(env, timeout, capsys):
    env.counters.reset()
    with pytest.raises(SystemExit) as caught:
        main(["get", str(env.demo.queries["markets"]), "--timeout", timeout])
    assert caught.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("watch-pandas get: error: argument --timeout: ")
    assert repr(timeout) in last and "leave --timeout out" in last and "None" not in last
    assert env.counters.requests() == 0


def test_an_offline_miss_says_how_to_go_online_on_the_command_line(env, monkeypatch, capsys):
    monkeypatch.setenv("WATCH_OFFLINE", "1")
    assert main(["get", str(env.demo.queries["markets"])]) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert "unset $WATCH_OFFLINE" in line and "offline=" not in line


def test_a_query_link_for_the_id_says_to_pass_the_id_and_the_url(env, capsys):
    qid = env.demo.queries["markets"]
    with pytest.raises(SystemExit) as caught:
        main(["get", f"{env.url}/queries/{qid}?api_key=SECRET-KEY-1"])
    assert caught.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("watch-pandas get: error: argument query_id: ")
    assert f"pass its id ({qid})" in last and f"--url {env.url}" in last
    assert "SECRET-KEY-1" not in last


def test_serve_on_a_host_that_does_not_exist_is_one_line_naming_host(capsys):
    assert main(["serve", "--host", "999.1.1.1", "--port", "0"]) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert "--host 999.1.1.1" in line


def test_serve_on_a_busy_port_is_one_line_naming_port(capsys):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert f"--port {port}" in line and "in use" in line


@pytest.mark.parametrize("workers", ["0", "-2", "two", "1.5"])
def test_serve_refuses_web_workers_that_are_not_a_whole_number(workers, monkeypatch, capsys):
    import watch_pandas.testing as testing

    monkeypatch.setattr(testing, "serve", lambda **options: pytest.fail("a server was started"))
    with pytest.raises(SystemExit) as caught:
        main(["serve", "--serialize", "per-request", "--web-workers", workers])
    assert caught.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("watch-pandas serve: error: argument --web-workers: ")
    assert repr(workers) in last and "whole number >= 1" in last


def test_serve_passes_web_workers_on(monkeypatch):
    import watch_pandas.testing as testing

    seen = {}
    monkeypatch.setattr(testing, "serve", lambda **options: seen.update(options))
    assert main(["serve", "--serialize", "per-request", "--web-workers", "3", "--port", "0"]) == 0
    assert seen["web_workers"] == 3 and seen["serialize"] == "per-request"
