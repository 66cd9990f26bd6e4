"""watch_pandas.dask.read_watch_sweep: one Dask partition per parameter set, on a LocalCluster
over the local server; the API key never in the task graph, its repr or its pickled form."""

from __future__ import annotations

import pickle

import pandas as pd
import pytest

from watch_pandas import ConfigError, ParameterError, date_ranges, read_watch_sweep

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")
cloudpickle = pytest.importorskip("cloudpickle")

from watch_pandas import dask as wdask  # noqa: E402  (after the extra is known to be there)
from watch_pandas.testing import LocalWatch  # noqa: E402

SQL = (
    "SELECT p.day, m.symbol, p.price FROM prices p JOIN markets m ON m.id = p.market_id\n"
    "WHERE m.chain = '{{ chain }}' AND p.day BETWEEN '{{ period.start }}' AND '{{ period.end }}'\n"
    "ORDER BY p.day, m.symbol"
)
PERIODS = date_ranges("2024-01-01", "2024-02-29", "MS")
GRID = {"period": PERIODS, "chain": ["ethereum", "arbitrum"]}


@pytest.fixture
def lw():
    with LocalWatch(demo=True) as lw:
        lw.query = lw.add_query(
            SQL,
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
        yield lw


def pandas_sweep(lw):
    return read_watch_sweep(lw.query, GRID, url=lw.url, api_key=lw.admin_key, progress=False)


def key_shown_in(lw, ddf) -> list[str]:
    """Where the key shows: the graph's repr, its pickled forms, the collection's repr."""
    graph = dict(ddf.__dask_graph__())
    key = lw.admin_key
    places = {
        "repr(graph)": repr(graph),
        "repr(ddf)": repr(ddf),
        "pickle": pickle.dumps(graph, protocol=5).hex(),
        "cloudpickle": cloudpickle.dumps(graph).hex(),
    }
    return [name for name, text in places.items() if key in text or key.encode().hex() in text]


def test_one_partition_per_part_equal_to_the_pandas_sweep_on_a_local_cluster(lw):
    expected = pandas_sweep(lw)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
    ):
        ddf = wdask.read_watch_sweep(lw.query, GRID, url=lw.url, api_key=lw.admin_key)
        assert ddf.npartitions == 4
        assert key_shown_in(lw, ddf) == []
        got = ddf.compute()
    pd.testing.assert_frame_equal(got.reset_index(drop=True), pd.DataFrame(expected))
    assert list(ddf.dtypes.index) == list(expected.columns)
    assert (ddf.dtypes == expected.dtypes).all()


def test_workers_in_other_processes_take_the_key_from_their_own_environment(lw, monkeypatch):
    monkeypatch.setenv("WATCH_URL", lw.url)
    monkeypatch.setenv("WATCH_API_KEY", lw.admin_key)  # the workers' processes inherit it
    expected = pandas_sweep(lw)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
    ):
        ddf = wdask.read_watch_sweep(lw.query, GRID)
        assert key_shown_in(lw, ddf) == []
        got = ddf.compute()
    pd.testing.assert_frame_equal(got.reset_index(drop=True), pd.DataFrame(expected))


def test_a_key_given_as_an_argument_never_leaves_this_process(lw):
    ddf = wdask.read_watch_sweep(lw.query, GRID, url=lw.url, api_key=lw.admin_key)
    assert key_shown_in(lw, ddf) == []
    credentials = wdask.WatchCredentials.from_key(lw.url, lw.admin_key)
    assert lw.admin_key not in repr(credentials)
    copy = pickle.loads(pickle.dumps(credentials))
    assert lw.admin_key not in pickle.dumps(credentials).hex() + repr(copy)
    assert copy.resolve()[1] == lw.admin_key  # in this process (threads, processes=False)
    # what another process sees: the reference without the key behind it
    wdask._KEYS.pop(copy.key_ref)
    with pytest.raises(ConfigError, match="WATCH_API_KEY") as info:
        copy.resolve()
    assert lw.admin_key not in str(info.value)


def test_a_key_from_an_environment_variable_travels_as_its_name(lw, monkeypatch):
    monkeypatch.setenv("TEAM_WATCH_KEY", lw.admin_key)
    credentials = wdask.WatchCredentials(lw.url, api_key_env="TEAM_WATCH_KEY")
    assert "TEAM_WATCH_KEY" in repr(credentials) and lw.admin_key not in repr(credentials)
    ddf = wdask.read_watch_sweep(lw.query, GRID, credentials=credentials)
    assert key_shown_in(lw, ddf) == []
    got = ddf.compute(scheduler="threads")
    assert len(got) == len(pandas_sweep(lw))
    monkeypatch.delenv("TEAM_WATCH_KEY")
    with pytest.raises(ConfigError, match="TEAM_WATCH_KEY"):
        credentials.resolve()


def test_meta_comes_from_the_first_part_and_the_cache_serves_it_again(lw):
    ddf = wdask.read_watch_sweep(lw.query, GRID, url=lw.url, api_key=lw.admin_key)
    assert lw.counters.executions == 1  # the first part, read for the column types
    assert list(ddf.columns[:3]) == ["period_start", "period_end", "chain"]
    ddf.compute(scheduler="sync")
    assert lw.counters.executions == 4  # the first part came from the local cache


def test_bad_parts_are_refused_before_anything_runs(lw):
    with pytest.raises(ParameterError, match="solana"):
        wdask.read_watch_sweep(lw.query, {"chain": ["solana"]}, url=lw.url, api_key=lw.admin_key)
    with pytest.raises(ConfigError, match="credentials"):
        wdask.read_watch_sweep(
            lw.query, GRID, api_key=lw.admin_key, credentials=wdask.WatchCredentials(lw.url)
        )
    assert lw.counters.executions == 0


def test_without_dask_the_error_names_the_extra(lw, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "dask.dataframe", None)
    with pytest.raises(ImportError, match=r'pip install "watch-pandas\[dask\]"'):
        wdask.read_watch_sweep(lw.query, GRID, url=lw.url, api_key=lw.admin_key)
    assert lw.counters.requests() == 0


# price_history's rows: 2024-03-25..2024-04-30 have rows, May 2024 none. Its ``symbol`` column
# is untyped text, ``updated_at_tz`` a datetime whose UTC zone only values show.
WITH_ROWS = date_ranges("2024-03-25", "2024-04-30", "MS")
NO_ROWS = date_ranges("2024-05-01", "2024-05-10", "MS")


def history(lw, grid, dask=True, **kw):
    read = wdask.read_watch_sweep if dask else read_watch_sweep
    if not dask:
        kw["progress"] = False
    return read(lw.demo.queries["price_history"], grid, url=lw.url, api_key=lw.admin_key, **kw)


def assert_partitions_match_meta(ddf) -> list[pd.DataFrame]:
    parts = [ddf.get_partition(i).compute(scheduler="sync") for i in range(ddf.npartitions)]
    for part in parts:
        assert list(part.columns) == list(ddf._meta.columns)
        assert part.dtypes.tolist() == ddf._meta.dtypes.tolist()
    return parts


@pytest.mark.parametrize("convert_string", [None, True, False])
def test_multi_value_parameters_stay_tuples_whatever_dasks_string_conversion(lw, convert_string):
    import dask

    grid = {"period": WITH_ROWS, "symbols": [["WETH"], ["DAI", "USDC"]]}
    expected = history(lw, grid, dask=False)
    with dask.config.set({"dataframe.convert-string": convert_string}):  # None: Dask's default
        ddf = history(lw, grid)
        got = ddf.compute(scheduler="sync")
    assert set(map(type, got["symbols"])) == {tuple}  # not their repr as text
    assert set(got["symbols"]) == {("WETH",), ("DAI", "USDC")}
    assert ddf.dtypes.tolist() == expected.dtypes.tolist()
    pd.testing.assert_frame_equal(got.reset_index(drop=True), pd.DataFrame(expected))
    assert_partitions_match_meta(ddf)


def test_every_partition_matches_meta_a_part_without_rows_too(lw):
    ddf = history(lw, {"period": WITH_ROWS + NO_ROWS})
    assert "UTC" in str(ddf.dtypes["updated_at_tz"])
    parts = assert_partitions_match_meta(ddf)
    assert len(parts[-1]) == 0
    paris = ddf["updated_at_tz"].dt.tz_convert("Europe/Paris").compute(scheduler="sync")
    assert str(paris.dtype) == "datetime64[ms, Europe/Paris]"
    expected = history(lw, {"period": WITH_ROWS + NO_ROWS}, dask=False)
    pd.testing.assert_frame_equal(
        ddf.compute(scheduler="sync").reset_index(drop=True), pd.DataFrame(expected)
    )


def test_meta_comes_from_the_first_part_with_rows(lw):
    ddf = history(lw, {"period": NO_ROWS + WITH_ROWS})
    assert "UTC" in str(ddf.dtypes["updated_at_tz"]) and str(ddf.dtypes["symbol"]) != "object"
    parts = assert_partitions_match_meta(ddf)
    assert len(parts[0]) == 0 and len(parts[1]) > 0


@pytest.mark.parametrize("output", ["arrow", "polars"])
def test_output_other_than_pandas_is_a_config_error_before_any_request(lw, output):
    lw.counters.reset()
    with pytest.raises(ConfigError, match="pandas partitions"):
        wdask.read_watch_sweep(lw.query, GRID, url=lw.url, api_key=lw.admin_key, output=output)
    with pytest.raises(ConfigError, match="output must be"):
        wdask.read_watch_sweep(lw.query, GRID, url=lw.url, api_key=lw.admin_key, output="xlsx")
    assert lw.counters.requests() == 0
    ddf = wdask.read_watch_sweep(lw.query, GRID, url=lw.url, api_key=lw.admin_key, output="pandas")
    assert ddf.npartitions == 4
