"""read_watch_sweep: one query over many parameter sets, against the local server (real HTTP).

Grid and list sweeps, validation of every part before anything runs, partial failures
reported as dashboards report them, resuming from the local cache (counted with the server's
execution counter), Ctrl-C cancelling the running jobs, and the overall progress events.
"""

from __future__ import annotations

import signal
import threading
import time

import pandas as pd
import pytest

from watch_pandas import (
    ConfigError,
    ParameterError,
    QueryFailedError,
    SweepError,
    date_ranges,
    read_watch_query,
    read_watch_sweep,
)
from watch_pandas._progress import progress_text
from watch_pandas.testing import LocalWatch

CHAIN_PRICES = (
    "SELECT p.day, m.symbol, p.price FROM prices p JOIN markets m ON m.id = p.market_id\n"
    "WHERE m.chain = '{{ chain }}' AND p.day BETWEEN '{{ period.start }}' AND '{{ period.end }}'\n"
    "ORDER BY p.day, m.symbol"
)
PERIODS = date_ranges("2024-01-01", "2024-03-31", "MS")
CHAINS = ["ethereum", "arbitrum"]


@pytest.fixture
def lw():
    """A fresh demo server per test (0.2 s), so no test sees another's server-side results."""
    with LocalWatch(demo=True) as lw:
        lw.chain_prices = lw.add_query(
            CHAIN_PRICES,
            lw.demo.data_sources["typed"],
            name="Prices by chain",
            parameters=[
                {
                    "name": "period",
                    "title": "period",
                    "type": "date-range",
                    "value": {"start": "2024-01-01", "end": "2024-01-31"},
                },
                {
                    "name": "chain",
                    "title": "chain",
                    "type": "enum",
                    "value": "ethereum",
                    "enumOptions": "ethereum\narbitrum\noptimism",
                },
            ],
        )
        lw.counters.reset()
        yield lw
        lw.release_jobs()


def sweep(lw, parts, **kw):
    kw.setdefault("progress", False)
    return read_watch_sweep(lw.chain_prices, parts, url=lw.url, api_key=lw.admin_key, **kw)


def one_part(lw, params):
    return read_watch_query(
        lw.chain_prices, params, url=lw.url, api_key=lw.admin_key, progress=False, cache=False
    )


# --------------------------------------------------------------------------- grid and list


def test_a_grid_is_every_combination_in_one_frame_with_the_swept_values_as_columns(lw):
    frame = sweep(lw, {"period": PERIODS, "chain": CHAINS})

    assert lw.counters.executions == 6
    assert list(frame.columns[:3]) == ["period_start", "period_end", "chain"]
    assert frame.errors == {}
    expected = []
    for period in PERIODS:  # the grid's order: the first name varies slowest
        for chain in CHAINS:
            part = one_part(lw, {"period": period, "chain": chain})
            part.insert(0, "period_start", pd.Timestamp(period["start"]))
            part.insert(1, "period_end", pd.Timestamp(period["end"]))
            part.insert(2, "chain", chain)
            expected.append(part)
    expected_frame = pd.concat(expected, ignore_index=True)
    expected_frame["chain"] = expected_frame["chain"].astype(frame["chain"].dtype)
    pd.testing.assert_frame_equal(frame, expected_frame, check_dtype=False)
    assert frame["period_start"].dtype.kind == "M" and frame["period_end"].dtype.kind == "M"
    assert frame.dtypes["price"] == one_part(lw, None).dtypes["price"]
    watch = frame.attrs["watch"]
    assert watch["query_id"] == lw.chain_prices and len(watch["parts"]) == 6
    assert watch["parts"][1]["parameters"] == {"period": PERIODS[0], "chain": "arbitrum"}


def test_a_list_of_parameter_sets_fills_each_part_with_the_saved_defaults(lw):
    frame = sweep(lw, [{"chain": "optimism"}, {"chain": "arbitrum", "period": PERIODS[1]}])

    assert lw.counters.executions == 2
    # every name any part sets is a column; a part that leaves it out shows the default it ran
    parts = frame.groupby("chain", sort=False)[["period_start", "period_end"]].first()
    assert parts.loc["optimism"].tolist() == [
        pd.Timestamp("2024-01-01"),
        pd.Timestamp("2024-01-31"),
    ]
    assert parts.loc["arbitrum"].tolist() == [
        pd.Timestamp("2024-02-01"),
        pd.Timestamp("2024-02-29"),
    ]


def test_fixed_params_apply_to_every_part_and_are_no_column(lw):
    frame = sweep(lw, {"chain": CHAINS}, params={"period": PERIODS[2]})
    assert "period_start" not in frame.columns and list(frame.columns[:1]) == ["chain"]
    assert frame["day"].min() >= pd.Timestamp("2024-03-01")


def test_a_part_with_no_rows_keeps_the_columns(lw):
    frame = sweep(lw, {"chain": ["optimism"]}, params={"period": ("2030-01-01", "2030-01-02")})
    assert len(frame) == 0
    assert list(frame.columns) == ["chain", "day", "symbol", "price"]


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("parts", "match"),
    [
        ({"chain": ["ethereum", "solana"]}, "solana"),
        ({"chain": "ethereum"}, "list of values"),
        ({}, "at least one"),
        ([], "at least one"),
        ([{"chain": "ethereum"}, "arbitrum"], "dict of parameter values"),
        ({"nope": [1]}, "nope"),
        ([{"chain": "ethereum"}, {"chain": "ethereum"}], "twice"),
        (42, "grid"),
    ],
)
def test_every_part_is_checked_before_anything_runs(lw, parts, match):
    with pytest.raises(ParameterError, match=match):
        sweep(lw, parts)
    assert lw.counters.executions == 0


def test_a_name_both_fixed_and_swept_is_refused(lw):
    with pytest.raises(ParameterError, match="both"):
        sweep(lw, {"chain": CHAINS}, params={"chain": "ethereum"})


def test_bad_options_are_config_errors_before_any_request(lw):
    for bad in ({"max_workers": 0}, {"max_workers": True}, {"errors": "ignore"}):
        with pytest.raises(ConfigError, match=next(iter(bad))):
            sweep(lw, {"chain": CHAINS}, **bad)
    assert lw.counters.requests() == 0


# --------------------------------------------------------------------------- failures, resume


def test_failed_parts_are_reported_and_the_others_kept(lw):
    lw.fail_query("'arbitrum'", 'relation "arbitrum" does not exist')
    with pytest.warns(RuntimeWarning, match="3 of 6 parts failed"):
        frame = sweep(lw, {"period": PERIODS, "chain": CHAINS})
    assert set(frame["chain"]) == {"ethereum"}
    assert list(frame.errors) == [
        "period=2024-01-01..2024-01-31 chain=arbitrum",
        "period=2024-02-01..2024-02-29 chain=arbitrum",
        "period=2024-03-01..2024-03-31 chain=arbitrum",
    ]
    assert all(isinstance(exc, QueryFailedError) for exc in frame.errors.values())


def test_errors_raise_carries_the_frame_of_the_parts_that_worked(lw):
    lw.fail_query("'arbitrum'")
    with pytest.raises(SweepError, match="3 of 6 parts failed") as info:
        sweep(lw, {"period": PERIODS, "chain": CHAINS}, errors="raise")
    assert set(info.value.frame["chain"]) == {"ethereum"} and len(info.value.errors) == 3


def test_every_part_failing_raises(lw):
    lw.fail_query("FROM prices")
    with pytest.raises(SweepError, match="every part failed") as info:
        sweep(lw, {"chain": CHAINS})
    assert len(info.value.frame) == 0 and len(info.value.errors) == 2


def test_a_failed_sweep_resumes_running_only_the_missing_parts(lw):
    lw.fail_query("'arbitrum'")
    with pytest.warns(RuntimeWarning):
        sweep(lw, {"period": PERIODS, "chain": CHAINS})
    assert lw.counters.executions == 6
    lw.clear_failures()
    lw.counters.reset()

    frame = sweep(lw, {"period": PERIODS, "chain": CHAINS})
    assert lw.counters.executions == 3  # only the three arbitrum parts
    assert frame.errors == {} and set(frame["chain"]) == set(CHAINS)

    lw.counters.reset()
    again = sweep(lw, {"period": PERIODS, "chain": CHAINS})
    assert lw.counters.executions == 0
    pd.testing.assert_frame_equal(again, frame)
    sources = {part["source"] for part in again.attrs["watch"]["parts"]}
    assert sources == {"local cache"}


def test_offline_a_sweep_is_served_from_the_cache_without_the_network(lw, monkeypatch):
    online = sweep(lw, {"chain": CHAINS})
    lw.counters.reset()
    offline = sweep(lw, {"chain": CHAINS}, offline=True)
    assert lw.counters.requests() == 0
    pd.testing.assert_frame_equal(offline, online)


# --------------------------------------------------------------------------- concurrency, Ctrl-C


@pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="POSIX signals")
def test_ctrl_c_mid_sweep_cancels_the_running_jobs_and_starts_no_more(lw):
    lw.hold_jobs()  # every job stays queued until cancelled
    main = threading.main_thread().ident
    jobs_before = len(lw._backend.jobs.all())

    def interrupt_when_two_are_queued():
        for _ in range(600):
            if len(lw._backend.jobs.all()) - jobs_before >= 2:
                signal.pthread_kill(main, signal.SIGINT)
                return
            time.sleep(0.05)
        lw.release_jobs()  # the interrupt never came: let the sweep end ("DID NOT RAISE")

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    watcher = threading.Thread(target=interrupt_when_two_are_queued)
    try:
        watcher.start()
        with pytest.raises(KeyboardInterrupt):
            sweep(lw, {"period": PERIODS, "chain": CHAINS}, max_workers=2, max_age=0)
    finally:
        watcher.join()
        signal.signal(signal.SIGINT, previous)
    jobs = lw._backend.jobs.all()[jobs_before:]
    assert len(jobs) == 2  # the four parts not started never reached the server
    assert [job.error for job in jobs] == ["Query cancelled by user."] * 2
    assert lw.counters.requests("DELETE") == 2  # each once: not by the interrupt and the part


def test_no_more_than_max_workers_parts_run_at_once(lw, monkeypatch):
    from watch_pandas._client import WatchClient

    state = {"now": 0, "peak": 0}
    cond = threading.Condition()
    original = WatchClient.post_query_results

    def counting(self, *args, **kwargs):
        with cond:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
            cond.notify_all()
            # hold until the pool is full (or give up after a while): a pool that allowed
            # more than two would show a higher peak here
            cond.wait_for(lambda: state["now"] >= 2, timeout=2)
        try:
            return original(self, *args, **kwargs)
        finally:
            with cond:
                state["now"] -= 1

    monkeypatch.setattr(WatchClient, "post_query_results", counting)
    sweep(lw, {"period": PERIODS, "chain": CHAINS}, max_workers=2, max_age=0)
    assert state["peak"] == 2
    assert lw.counters.executions == 6


# --------------------------------------------------------------------------- progress, keys


def test_progress_reports_parts_done_rows_and_an_estimate(lw):
    events = []
    frame = sweep(lw, {"period": PERIODS, "chain": CHAINS}, progress=events.append)

    assert [e.parts_done for e in events] == [0, 1, 2, 3, 4, 5, 6, 6]
    assert all(e.parts_total == 6 for e in events)
    assert events[-1].state == "done" and events[-1].rows == len(frame)
    rows = [e.rows for e in events]
    assert rows == sorted(rows) and rows[0] == 0
    assert all(e.eta is not None for e in events[1:-1])
    line = progress_text(events[-1])
    assert "6/6 parts" in line and f"{len(frame):,} rows" in line
    assert "left" in progress_text(events[3])


def test_the_key_is_in_no_provenance_label_or_error(lw):
    lw.fail_query("'arbitrum'")
    with pytest.warns(RuntimeWarning) as warned:
        frame = sweep(lw, {"chain": CHAINS})
    texts = [repr(frame.attrs), *map(str, frame.errors), *map(str, frame.errors.values())]
    texts += [str(w.message) for w in warned]
    assert not any(lw.admin_key in text for text in texts)


def test_a_multi_value_parameter_is_a_column_of_tuples_that_groups(lw):
    frame = read_watch_sweep(
        lw.demo.queries["price_history"],
        {"symbols": [["WETH"], ["WETH", "DAI"]]},
        url=lw.url,
        api_key=lw.admin_key,
        progress=False,
    )
    sizes = frame.groupby("symbols", sort=False).size()
    assert list(sizes.index) == [("WETH",), ("WETH", "DAI")]
    assert sizes.iloc[1] == 2 * sizes.iloc[0]


# --------------------------------------------------------------------------- dtypes, output

# price_history's rows: 2024-03-25..2024-04-30 have rows; May 2024 and 2030 have none. Its
# ``symbol`` column is untyped text (a string dtype only from values) and ``updated_at_tz`` a
# datetime whose UTC zone only values show.
WITH_ROWS = date_ranges("2024-03-25", "2024-04-30", "MS")
NO_ROWS = date_ranges("2024-05-01", "2024-05-10", "MS")
NO_ROWS_EARLY = [{"start": "2020-01-01", "end": "2020-01-31"}]


def history_sweep(lw, periods, **kw):
    return read_watch_sweep(
        lw.demo.queries["price_history"],
        {"period": periods},
        url=lw.url,
        api_key=lw.admin_key,
        progress=False,
        **kw,
    )


@pytest.mark.parametrize("backend", ["numpy_nullable", "pyarrow"])
def test_a_part_with_no_rows_does_not_change_the_dtypes_of_the_parts_with_rows(lw, backend):
    full = history_sweep(lw, WITH_ROWS, dtype_backend=backend)
    assert "UTC" in str(full.dtypes["updated_at_tz"])  # what the values show
    assert str(full.dtypes["symbol"]) != "object"

    mixed = history_sweep(lw, NO_ROWS_EARLY + WITH_ROWS + NO_ROWS, dtype_backend=backend)
    assert dict(mixed.dtypes) == dict(full.dtypes)
    pd.testing.assert_frame_equal(mixed, full)
    assert [part["part"] for part in mixed.attrs["watch"]["parts"]] == [0, 1, 2, 3]


def test_the_sweep_of_parts_without_rows_keeps_the_result_columns(lw):
    frame = history_sweep(lw, NO_ROWS_EARLY + NO_ROWS)
    assert len(frame) == 0
    assert list(frame.columns[:2]) == ["period_start", "period_end"]
    assert "updated_at_tz" in frame.columns and frame.dtypes["period_start"].kind == "M"


def test_output_arrow_is_the_pyarrow_sweep_as_a_table_with_its_provenance(lw):
    import json

    pa = pytest.importorskip("pyarrow")
    periods = WITH_ROWS + NO_ROWS
    table = history_sweep(lw, periods, output="arrow")
    assert isinstance(table, pa.Table)
    frame = history_sweep(lw, periods, dtype_backend="pyarrow")
    assert table.column_names == list(frame.columns)
    assert table.num_rows == len(frame)
    assert table.schema.field("updated_at_tz").type == pa.timestamp("ms", tz="UTC")
    assert table.schema.field("symbol").type == pa.string()
    watch = json.loads(table.schema.metadata[b"watch"])
    assert watch["swept"] == ["period"] and len(watch["parts"]) == 3
    assert lw.admin_key not in table.schema.metadata[b"watch"].decode()


def test_output_polars_is_the_arrow_table_as_a_polars_frame(lw):
    pl = pytest.importorskip("polars")
    frame = history_sweep(lw, WITH_ROWS, output="polars")
    assert isinstance(frame, pl.DataFrame)
    assert frame.schema["updated_at_tz"] == pl.Datetime("ms", "UTC")
    assert frame.schema["symbol"] == pl.String
    assert frame.height == len(history_sweep(lw, WITH_ROWS))


def test_a_multi_value_parameter_is_a_list_column_in_arrow_and_polars(lw):
    pa = pytest.importorskip("pyarrow")
    pl = pytest.importorskip("polars")
    grid = {"symbols": [["WETH"], ["WETH", "DAI"]]}
    query = lw.demo.queries["price_history"]
    kw = {"url": lw.url, "api_key": lw.admin_key, "progress": False}
    table = read_watch_sweep(query, grid, output="arrow", **kw)
    assert table.schema.field("symbols").type == pa.list_(pa.string())
    assert table.column("symbols")[0].as_py() == ["WETH"]
    frame = read_watch_sweep(query, grid, output="polars", **kw)
    assert frame.schema["symbols"] == pl.List(pl.String)


def test_a_bad_output_is_a_config_error_before_any_request(lw):
    with pytest.raises(ConfigError, match="output must be"):
        sweep(lw, {"chain": CHAINS}, output="excel")
    assert lw.counters.requests() == 0


def test_with_output_arrow_failed_parts_are_in_the_warning_and_the_provenance(lw):
    import json

    lw.fail_query("'arbitrum'")
    with pytest.warns(RuntimeWarning, match="1 of 2 parts failed"):
        table = sweep(lw, {"chain": CHAINS}, output="arrow")
    failed = json.loads(table.schema.metadata[b"watch"])["failed"]
    assert list(failed) == ["chain=arbitrum"]
    with pytest.raises(SweepError) as info:
        sweep(lw, {"chain": CHAINS}, output="arrow", errors="raise")
    assert info.value.frame.num_rows == sweep(lw, {"chain": ["ethereum"]}).shape[0]


@pytest.mark.parametrize(("query", "precision"), [("param_datetime_range_seconds", "second")])
def test_a_sweep_over_a_datetime_range_returns_the_rows_of_one_read(lw, tmp_path, query, precision):
    # Day parts of a datetime range cover whole days (a date-only end is the end of that day),
    # so the parts together are exactly the range read at once: nothing lost between parts.
    qid = lw.demo.queries[query]
    options = dict(url=lw.url, api_key=lw.admin_key, progress=False, cache_dir=tmp_path)
    parts = date_ranges("2024-02-01", "2024-02-05", "D", precision=precision)
    swept = read_watch_sweep(qid, {"period": parts}, **options)
    whole = read_watch_query(qid, {"period": ("2024-02-01", "2024-02-05")}, **options)
    assert len(whole) == 5  # one row a day, each at 23:59:3x: the parts' ends must reach it
    assert sorted(swept["day"]) == sorted(whole["day"])
