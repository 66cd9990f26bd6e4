"""The local result cache: exact round trips, the hit rules, safety of files, and reads through
``read_watch_query`` against the local server (hits counted with ``lw.counters``)."""

from __future__ import annotations

import concurrent.futures
import json
import multiprocessing
import os
import stat
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import requests
from _samples import sample_body

from watch_pandas import ConfigError, NotFoundError, ParameterError, read_watch_query, run_sql
from watch_pandas import _cache as wc
from watch_pandas._client import WatchClient
from watch_pandas._decode import decode_result
from watch_pandas.models import Query

RESULT_SAMPLES = [
    "27-typed-pg-json",
    "30-untyped-sqlite-json",
    "32-pg-edge-cases-json",
    "43-python-source-uint256-json",
]
SERVER = "https://watch.test"
SECRET = "SECRETQUERYKEY0123456789abcdefghijklmno"
POST_RESULTS = "/api/queries/<id>/results"
GET_QUERY = "/api/queries/<id>"


def sample_bytes(name: str) -> bytes:
    return json.dumps(sample_body(name)).encode()


def make_query(**changes) -> Query:
    raw = {
        "id": 7,
        "name": "q",
        "query": "SELECT 1",
        "data_source_id": 1,
        "version": 2,
        "query_hash": "abc",
        "latest_query_data_id": 10,
        "created_at": "2026-01-01T00:00:00.000Z",
        "api_key": SECRET,
        "user": {"email": "someone@example.com"},
        "options": {"parameters": []},
    }
    raw.update(changes)
    return Query.from_json(raw)


def decoded(name: str, backend: str) -> pd.DataFrame:
    frame, meta = decode_result(sample_bytes(name), dtype_backend=backend)
    frame.attrs["watch"] = {
        "result_id": meta.id,
        "retrieved_at": meta.retrieved_at,
        "source": "fresh run",
        "parameters": {"x": 1},
    }
    return frame


@pytest.fixture
def store(tmp_path) -> wc.ResultCache:
    return wc.ResultCache(tmp_path / "cache")


@pytest.fixture
def cache_dir(tmp_path, monkeypatch) -> Path:
    """A private cache folder for reads through the public API (via ``$WATCH_CACHE_DIR``)."""
    folder = tmp_path / "watch-cache"
    monkeypatch.setenv(wc.CACHE_DIR_ENV, str(folder))
    monkeypatch.delenv(wc.OFFLINE_ENV, raising=False)
    return folder


def files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir()) if folder.exists() else []


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("backend", ["numpy_nullable", "pyarrow"])
@pytest.mark.parametrize("name", RESULT_SAMPLES)
def test_a_stored_frame_reads_back_identical(store, name, backend):
    frame = decoded(name, backend)
    key = wc.CacheKey.for_read(SERVER, 7, {"x": 1}, backend)
    store.store(key, frame, query=make_query(), is_default=False)

    back = store.load(key)

    pd.testing.assert_frame_equal(back, frame, check_exact=True)
    for position in range(frame.shape[1]):  # object columns: same values and same types
        original, restored = frame.iloc[:, position].tolist(), back.iloc[:, position].tolist()
        assert [type(v) for v in restored] == [type(v) for v in original]
        assert restored == original
    assert back.attrs["watch"]["source"] == wc.LOCAL_CACHE
    assert back.attrs["watch"]["parameters"] == {"x": 1}


def test_nullable_columns_come_back_through_the_decoders_dtype_table(store, monkeypatch):
    # One Arrow → pandas table for decoding and the cache: a column the decoder makes
    # (Int64, Float64, boolean, string) is restored by the same mapping, not a copy of it.
    from watch_pandas._decode import _dtypes

    looked_up = []

    class Recording(dict):
        def get(self, arrow_type, default=None):
            looked_up.append(str(arrow_type))
            return super().get(arrow_type, default)

    monkeypatch.setattr(_dtypes, "NULLABLE_DTYPES", Recording(_dtypes.NULLABLE_DTYPES))
    frame = decoded("27-typed-pg-json", "numpy_nullable")
    key = wc.CacheKey.for_read(SERVER, 7, {"x": 1}, "numpy_nullable")
    store.store(key, frame, query=make_query(), is_default=False)

    back = store.load(key)

    pd.testing.assert_frame_equal(back, frame, check_exact=True)
    assert {"int64", "large_string"} <= set(looked_up)  # text: pandas' own Arrow type


def test_integers_beyond_int64_are_stored_as_marked_text_and_come_back_exact(store):
    wei = [2**256 - 1, -(2**70), None, 0, 2**63]
    frame = pd.DataFrame({"amount": pd.Series(wei, dtype=object), "n": pd.array([1, 2, 3, 4, 5])})
    frame.attrs["watch"] = {"result_id": 1, "retrieved_at": None}
    key = wc.CacheKey.for_read(SERVER, 7, {}, "numpy_nullable")
    path = store.store(key, frame, query=make_query(), is_default=True)

    schema = pq.read_schema(path)
    assert str(schema.field("c0").type) == "string"
    kinds = [c["kind"] for c in json.loads(schema.metadata[b"watch_pandas.entry"])["columns"]]
    assert kinds == ["bigint", "pandas"]
    back = store.load(key)["amount"].tolist()
    assert back == wei and all(type(v) is int for v in back if v is not None)


def test_a_column_of_python_ints_is_encoded_without_a_check_per_value(store, monkeypatch):
    # 1M wei amounts: the per-value check (numbers.Integral, an ABC) cost ~0.5 s of each read
    from watch_pandas._cache import _encoding

    checked: list[object] = []
    is_integer = _encoding._is_integer
    monkeypatch.setattr(_encoding, "_is_integer", lambda v: checked.append(v) or is_integer(v))
    wei = [2**63, None, -(2**63) - 1, 0, 10**40, None]
    frame = pd.DataFrame({"amount": pd.Series(wei, dtype=object)})
    frame.attrs["watch"] = {}
    key = wc.CacheKey.for_read(SERVER, 7, {}, "numpy_nullable")
    store.store(key, frame, query=make_query(), is_default=True)
    assert checked == []
    back = store.load(key)["amount"].tolist()
    assert back == wei and [type(v) for v in back] == [type(v) for v in wei]


@pytest.mark.parametrize(
    "cells",
    [
        [2**64, np.int64(-5), None],  # numpy ints among Python ints: the careful check
        [2**64, True, None],  # a bool is no integer: JSON text
        [None, None],
        [2**64, 1.5],
    ],
)
def test_object_columns_of_ints_and_others_come_back_exact(store, cells):
    frame = pd.DataFrame({"c": pd.Series(cells, dtype=object)})
    frame.attrs["watch"] = {}
    key = wc.CacheKey.for_read(SERVER, 8, {}, "numpy_nullable")
    store.store(key, frame, query=make_query(), is_default=True)
    back = store.load(key)["c"].tolist()
    assert back == [
        None if v is None else int(v) if isinstance(v, np.integer) else v for v in cells
    ]
    assert [type(v) for v in back] == [int if isinstance(v, np.integer) else type(v) for v in cells]


def test_duplicate_column_names_and_time_zones_survive(store):
    frame = pd.DataFrame(
        {
            "a": pd.to_datetime(["2024-01-01T00:00:00.123Z", None], utc=True).as_unit("ms"),
            "b": pd.array(["x", None], dtype="string"),
        }
    )
    frame.columns = ["t", "t"]
    frame.attrs["watch"] = {}
    key = wc.CacheKey.for_read(SERVER, 1, {}, "numpy_nullable")
    store.store(key, frame, query=make_query(), is_default=False)
    back = store.load(key)
    assert list(back.columns) == ["t", "t"]
    assert str(back.dtypes.iloc[0]) == "datetime64[ms, UTC]"
    pd.testing.assert_frame_equal(back, frame)


def test_a_frame_that_json_cannot_keep_exactly_is_refused(store):
    frame = pd.DataFrame({"pair": pd.Series([(1, 2)], dtype=object)})
    with pytest.raises(wc.Uncacheable, match="tuple"):
        store.store(
            wc.CacheKey.for_read(SERVER, 1, {}, "pyarrow"), frame, query=make_query(), is_default=1
        )
    assert not list(store.directory.glob("*.parquet"))


# --------------------------------------------------------------------------- the hit rule

NOW = datetime(2026, 1, 2, 12, 0, 0, tzinfo=timezone.utc)


def info(**changes) -> wc.EntryInfo:
    values = dict(
        result_id=10,
        retrieved_at="2026-01-02T11:00:00.000Z",
        query_version=2,
        query_hash="abc",
        is_default=True,
        stored_at="",
        query_created_at="2026-01-01T00:00:00.000Z",
    )
    values.update(changes)
    return wc.EntryInfo(**values)


@pytest.mark.parametrize(
    ("entry", "query", "is_default", "max_age", "verdict"),
    [
        (info(), make_query(), True, None, None),
        (info(result_id=11), make_query(), True, None, None),  # newer than latest: fine
        (info(result_id=9), make_query(), True, None, "newer result"),
        (info(result_id=None), make_query(), True, None, "newer result"),
        # a trimmed result (query key, no id): served while the server's pointer is unchanged
        (info(result_id=None, latest_when_stored=10), make_query(), True, None, None),
        (info(result_id=None, latest_when_stored=9), make_query(), True, None, "newer result"),
        (info(result_id=9), make_query(), False, None, None),  # latest tracks defaults only
        (info(), make_query(version=3), True, None, "query changed"),
        (info(), make_query(query_hash="zzz"), False, None, "query changed"),
        # same URL and id, another server (reset or replaced): never served
        (info(), make_query(created_at="2026-06-01T00:00:00.000Z"), False, None, "not the one"),
        (info(query_created_at=None), make_query(), True, None, "not the one"),
        (info(), make_query(), True, 0, "fresh run"),
        (info(retrieved_at="2020-01-01T00:00:00Z"), make_query(), True, -1, None),  # any age
        (info(), make_query(), True, 3600, None),  # exactly max_age old: accepted
        (info(), make_query(), True, 3599, "3600 s old"),
        (info(retrieved_at="2026-01-02T11:00:00"), make_query(), False, 3600, None),  # naive=UTC
        (info(retrieved_at=None), make_query(), False, 60, "no retrieved_at"),
        (info(result_id=1, query_version=99), None, True, None, None),  # offline: age only
        (info(), None, True, 10, "old"),
    ],
)
def test_usable_follows_the_documented_rules(entry, query, is_default, max_age, verdict):
    reason = wc.usable(entry, query=query, is_default=is_default, max_age=max_age, now=NOW)
    if verdict is None:
        assert reason is None
    else:
        assert reason is not None and verdict in reason


# --------------------------------------------------------------------------- files on disk


def test_names_are_hashes_and_no_file_holds_the_key_or_raw_parameters(store):
    wire = {"wallet": "0xSECRETPARAMVALUE"}
    key = wc.CacheKey.for_read(SERVER, 7, wire, "numpy_nullable")
    frame = decoded("27-typed-pg-json", "numpy_nullable")
    store.store(key, frame, query=make_query(), is_default=False)
    store.store_query(SERVER, make_query())

    names = [p.name for p in files(store.directory)]
    assert len(names) == 2
    for name in names:
        stem = name.split(".")[0]
        assert len(stem) == 64 and set(stem) <= set("0123456789abcdef")
        assert "SECRET" not in name
    for path in files(store.directory):
        content = path.read_bytes()
        assert SECRET.encode() not in content
        assert b"someone@example.com" not in content
    assert store.load_query(SERVER, 7).parameters == ()


def test_different_parameters_servers_and_backends_are_different_files():
    base = wc.CacheKey.for_read(SERVER, 7, {"a": 1, "b": 2}, "numpy_nullable")
    same = wc.CacheKey.for_read(SERVER + "/", 7, {"b": 2, "a": 1}, "numpy_nullable")
    assert base.digest == same.digest  # canonical parameters, trailing slash ignored
    others = [
        wc.CacheKey.for_read(SERVER, 7, {"a": 1, "b": 3}, "numpy_nullable"),
        wc.CacheKey.for_read("https://other.test", 7, {"a": 1, "b": 2}, "numpy_nullable"),
        wc.CacheKey.for_read(SERVER, 8, {"a": 1, "b": 2}, "numpy_nullable"),
        wc.CacheKey.for_read(SERVER, 7, {"a": 1, "b": 2}, "pyarrow"),
    ]
    assert len({base.digest, *(k.digest for k in others)}) == 5


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_files_are_user_only_and_a_new_folder_is_private(store):
    key = wc.CacheKey.for_read(SERVER, 7, {}, "pyarrow")
    path = store.store(
        key, decoded("27-typed-pg-json", "pyarrow"), query=make_query(), is_default=0
    )
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.directory.stat().st_mode) == 0o700


@pytest.mark.parametrize("damage", ["truncate", "flip_data", "garbage", "empty"])
def test_a_damaged_file_is_a_miss_and_is_removed(store, damage):
    key = wc.CacheKey.for_read(SERVER, 7, {}, "numpy_nullable")
    frame = decoded("43-python-source-uint256-json", "numpy_nullable")
    path = store.store(key, frame, query=make_query(), is_default=True)
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "flip_data":
        data[len(b"PAR1") + 40] ^= 0xFF  # inside the first data page, covered by its CRC
    elif damage == "garbage":
        data = bytearray(b"not parquet at all" * 10)
    else:
        data = bytearray()
    path.write_bytes(bytes(data))

    assert store.info(key) is None or store.load(key) is None
    assert not path.exists()


def test_a_file_of_another_key_is_not_served(store):
    one = wc.CacheKey.for_read(SERVER, 7, {"a": 1}, "pyarrow")
    two = wc.CacheKey.for_read(SERVER, 7, {"a": 2}, "pyarrow")
    store.store(one, decoded("27-typed-pg-json", "pyarrow"), query=make_query(), is_default=0)
    os.replace(store.path_for(one), store.path_for(two))  # e.g. a file copied by hand
    assert store.info(two) is None


def test_an_interrupted_write_leaves_no_file(store, monkeypatch):
    def interrupted(table, handle):
        handle.write(b"PAR1 partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(wc._store, "_write_parquet", interrupted)
    key = wc.CacheKey.for_read(SERVER, 7, {}, "pyarrow")
    with pytest.raises(KeyboardInterrupt):
        store.store(key, decoded("27-typed-pg-json", "pyarrow"), query=make_query(), is_default=0)
    assert files(store.directory) == []


def test_clear_cache_removes_only_cache_files(store):
    key = wc.CacheKey.for_read(SERVER, 7, {}, "pyarrow")
    store.store(key, decoded("27-typed-pg-json", "pyarrow"), query=make_query(), is_default=0)
    store.store_query(SERVER, make_query())
    (store.directory / "notes.txt").write_text("mine")
    assert wc.clear_cache(store.directory) == 2
    assert [p.name for p in files(store.directory)] == ["notes.txt"]


def test_environment_switches(monkeypatch, tmp_path):
    monkeypatch.setenv(wc.CACHE_DIR_ENV, str(tmp_path / "x"))
    assert wc.cache_directory() == tmp_path / "x"
    assert wc.cache_directory(tmp_path / "y") == tmp_path / "y"
    monkeypatch.setenv(wc.OFFLINE_ENV, "1")
    assert wc.is_offline() is True and wc.is_offline(False) is False
    monkeypatch.setenv(wc.OFFLINE_ENV, "maybe")
    with pytest.raises(ConfigError, match="WATCH_OFFLINE"):
        wc.is_offline()


# --------------------------------------------------------------------------- processes


def _hammer(folder: str, writer: int, rounds: int) -> int:
    """Write and read one key many times; returns how many complete frames were read."""
    store = wc.ResultCache(folder)
    key = wc.CacheKey.for_read(SERVER, 7, {}, "numpy_nullable")
    query = make_query()
    seen = 0
    for i in range(rounds):
        n = 100_000 + writer * 100 + i  # megabytes: a write takes many system calls
        frame = pd.DataFrame({"n": pd.array(range(n), dtype="Int64"), "w": [writer] * n})
        frame.attrs["watch"] = {"result_id": writer, "retrieved_at": None}
        store.store(key, frame, query=query, is_default=False)
        back = store.load(key)
        if back is not None:
            writer_seen = int(back["w"].iloc[0])
            assert back["n"].tolist() == list(range(len(back)))  # a whole, consistent frame
            assert set(back["w"]) == {writer_seen}
            seen += 1
    return seen


def test_several_processes_writing_and_reading_one_key_see_only_whole_files(tmp_path, monkeypatch):
    # spawned children import this module by its name: make that name importable for them
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1]))
    folder = str(tmp_path / "shared")
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(3, mp_context=context) as pool:
        futures = [pool.submit(_hammer, folder, writer, 15) for writer in range(3)]
        seen = [f.result(timeout=120) for f in futures]
    assert all(n == 15 for n in seen)  # no reader ever met a partial or corrupt file
    assert [p.suffix for p in Path(folder).iterdir()] == [".parquet"]  # no temp files left


# --------------------------------------------------------------------------- through the API


@pytest.fixture
def lw(local_watch_demo):
    return local_watch_demo


@pytest.fixture
def cached_read(lw, cache_dir):
    def run(qid, params=None, **kw):
        kw.setdefault("progress", False)
        return read_watch_query(qid, params, url=lw.url, api_key=lw.admin_key, **kw)

    return run


def test_a_repeated_read_is_served_locally_with_one_request_and_no_execution(lw, cached_read):
    qid = lw.demo.queries["positions"]
    first = cached_read(qid)
    lw.counters.reset()

    again = cached_read(qid)

    assert again.attrs["watch"]["source"] == "local cache"
    assert lw.counters.executions == 0
    assert lw.counters.requests() == 1 == lw.counters.requests("GET", GET_QUERY)
    pd.testing.assert_frame_equal(again, first, check_exact=True)
    assert again["amount_wei"].tolist() == first["amount_wei"].tolist()  # wei, exact
    assert {k: v for k, v in again.attrs["watch"].items() if k != "source"} == {
        k: v for k, v in first.attrs["watch"].items() if k != "source"
    }


def test_a_hit_for_a_dropdown_parameter_needs_no_dropdown_request(lw, cached_read):
    qid = lw.demo.queries["param_query"]
    cached_read(qid)
    lw.counters.reset()
    assert cached_read(qid).attrs["watch"]["source"] == "local cache"
    assert lw.counters.requests() == 1


def test_a_read_resolves_its_parameters_once_and_checks_the_dropdown_when_it_runs(
    lw, cached_read, monkeypatch
):
    from watch_pandas import _params

    resolved = []
    real = _params.resolve_parameters

    def counting(*args, **kwargs):
        resolved.append(kwargs.get("dropdown_options"))
        return real(*args, **kwargs)

    monkeypatch.setattr(_params, "resolve_parameters", counting)
    qid = lw.demo.queries["param_query"]
    cached_read(qid)  # a miss: the query runs, so its dropdown value is checked

    assert len(resolved) == 1  # one plan: not again for "is it the default?" or the dropdown
    assert lw.counters.requests("GET", "/api/queries/<id>/dropdowns/<id>") == 1
    with pytest.raises(ParameterError, match="'NOPE' is not one of the options"):
        cached_read(qid, {"market": "NOPE"})


def test_other_parameters_are_another_entry(lw, cached_read, cache_dir):
    qid = lw.demo.queries["param_enum"]
    cached_read(qid, {"chain": "ethereum"})
    lw.counters.reset()
    other = cached_read(qid, {"chain": "arbitrum"})
    assert other.attrs["watch"]["source"] != "local cache"
    assert lw.counters.requests("POST", POST_RESULTS) == 1
    assert len(list(cache_dir.glob("*.parquet"))) == 2
    assert cached_read(qid, {"chain": "ethereum"}).attrs["watch"]["source"] == "local cache"


def test_max_age_expiry_goes_back_to_the_server(lw, cached_read, monkeypatch):
    qid = lw.demo.queries["param_number"]
    cached_read(qid, {"min_price": 3}, max_age=0)
    assert (
        cached_read(qid, {"min_price": 3}, max_age=3600).attrs["watch"]["source"] == "local cache"
    )
    lw.counters.reset()
    later = datetime.now(timezone.utc) + timedelta(hours=2)
    monkeypatch.setattr(wc._rules, "_utcnow", lambda: later)

    again = cached_read(qid, {"min_price": 3}, max_age=3600)

    assert again.attrs["watch"]["source"] == "server cache"  # the server's clock says fresh
    assert lw.counters.requests("POST", POST_RESULTS) == 1


def test_max_age_zero_runs_and_replaces_the_entry(lw, cached_read, cache_dir):
    qid = lw.demo.queries["markets"]
    cached_read(qid)
    lw.counters.reset()
    fresh = cached_read(qid, max_age=0)
    assert fresh.attrs["watch"]["source"] == "fresh run" and lw.counters.executions == 1
    lw.counters.reset()
    again = cached_read(qid)
    assert again.attrs["watch"]["source"] == "local cache"
    assert again.attrs["watch"]["result_id"] == fresh.attrs["watch"]["result_id"]


def test_a_newer_default_result_on_the_server_wins(lw, cached_read):
    qid = lw.demo.queries["prices"]
    first = cached_read(qid)
    newer = lw.refresh_query(qid)
    assert newer != first.attrs["watch"]["result_id"]
    lw.counters.reset()
    again = cached_read(qid)
    assert again.attrs["watch"]["source"] == "server cache"
    assert again.attrs["watch"]["result_id"] == newer


def test_an_edited_query_is_not_served_from_the_cache(local_watch, cache_dir):
    ds = local_watch.add_data_source("db")
    qid = local_watch.add_query("SELECT 1 AS one", ds, name="one")
    kw = dict(url=local_watch.url, api_key=local_watch.admin_key, progress=False)
    read_watch_query(qid, **kw)
    with WatchClient(local_watch.url, local_watch.admin_key) as client:
        client.edit_query(qid, query="SELECT 2 AS one")
    frame = read_watch_query(qid, **kw)
    assert frame.attrs["watch"]["source"] != "local cache"
    assert frame["one"].tolist() == [2]


def test_cache_false_neither_reads_nor_writes(lw, cached_read, cache_dir):
    qid = lw.demo.queries["markets"]
    cached_read(qid, cache=False)
    assert files(cache_dir) == []
    cached_read(qid)
    lw.counters.reset()
    assert cached_read(qid, cache=False).attrs["watch"]["source"] == "server cache"
    assert lw.counters.requests("POST", POST_RESULTS) == 1


def test_a_corrupt_entry_is_refetched_and_replaced(lw, cached_read, cache_dir):
    qid = lw.demo.queries["positions"]
    first = cached_read(qid)
    (path,) = cache_dir.glob("*.parquet")
    path.write_bytes(path.read_bytes()[:100])
    lw.counters.reset()

    again = cached_read(qid)

    assert again.attrs["watch"]["source"] == "server cache"
    assert lw.counters.requests("POST", POST_RESULTS) == 1
    pd.testing.assert_frame_equal(again, first)
    assert cached_read(qid).attrs["watch"]["source"] == "local cache"  # the file was replaced


def test_no_cache_file_holds_a_key(lw, cached_read, cache_dir):
    qid = lw.demo.queries["price_history"]
    cached_read(qid)
    query_key = lw.query_key(qid)
    assert files(cache_dir)
    for path in files(cache_dir):
        content = path.read_bytes()
        assert lw.admin_key.encode() not in content and query_key.encode() not in content


# --------------------------------------------------------------------------- offline


def test_offline_serves_a_cached_copy_without_any_request(lw, cached_read, monkeypatch):
    qid = lw.demo.queries["price_history"]
    online = cached_read(qid)
    lw.counters.reset()
    monkeypatch.setenv(wc.OFFLINE_ENV, "1")

    offline = cached_read(qid)

    assert lw.counters.requests() == 0
    assert offline.attrs["watch"]["source"] == "local cache"
    pd.testing.assert_frame_equal(offline, online)


def test_offline_needs_no_key_and_no_running_server(local_watch, cache_dir):
    ds = local_watch.add_data_source("db")
    qid = local_watch.add_query("SELECT 42 AS answer", ds, name="answer")
    url = local_watch.url
    read_watch_query(qid, url=url, api_key=local_watch.admin_key, progress=False)
    local_watch.stop()
    frame = read_watch_query(qid, url=url, offline=True, progress=False)
    assert frame["answer"].tolist() == [42]


def test_offline_without_a_cached_copy_says_so(lw, cached_read):
    """And max_age=0 offline is the last stored run: a re-run notebook cell keeps working."""
    qid = lw.demo.queries["param_enum"]
    with pytest.raises(NotFoundError, match="never been read online"):
        cached_read(qid, offline=True)
    cached_read(qid, {"chain": "ethereum"})
    lw.counters.reset()
    with pytest.raises(NotFoundError, match="for these parameters and dtype_backend, and there "):
        cached_read(qid, {"chain": "optimism"}, offline=True)
    offline = cached_read(qid, {"chain": "ethereum"}, offline=True, max_age=0)  # nothing can run
    assert offline.attrs["watch"]["source"] == "local cache"
    with pytest.raises(ConfigError, match="cache=False"):
        cached_read(qid, offline=True, cache=False)
    assert lw.counters.requests() == 0


def _advice(message: str) -> str:
    """What an offline miss says, checked for advice that cannot help and nested brackets."""
    assert "((" not in message and "))" not in message and ") (" not in message, message
    assert "offline=False" in message, message
    return message


def test_an_offline_miss_without_a_copy_does_not_suggest_max_age(lw, cached_read, cached_sql):
    """No copy at all: only an online read helps, whatever max_age says."""
    qid = lw.demo.queries["param_enum"]
    cached_read(qid, {"chain": "ethereum"})
    cached_sql()  # lists the data sources, so the offline run below finds its name
    with pytest.raises(NotFoundError) as never_read:
        cached_read(lw.demo.queries["markets"], offline=True)
    with pytest.raises(NotFoundError) as other_params:
        cached_read(qid, {"chain": "optimism"}, offline=True, max_age=60)
    with pytest.raises(NotFoundError) as never_run:
        cached_sql("SELECT 42 AS x", params={}, offline=True, max_age=60)
    misses = [never_read, other_params, never_run]
    for caught in misses:
        message = _advice(str(caught.value))
        assert "max_age" not in message and "Read it online once" in message


def test_an_offline_copy_too_old_for_max_age_can_be_served_anyway(lw, cached_read, monkeypatch):
    qid = lw.demo.queries["param_enum"]
    cached_read(qid, {"chain": "ethereum"})
    later = wc._rules._utcnow() + timedelta(hours=1)
    monkeypatch.setattr(wc._rules, "_utcnow", lambda: later)
    with pytest.raises(NotFoundError) as caught:
        cached_read(qid, {"chain": "ethereum"}, offline=True, max_age=60)
    message = _advice(str(caught.value))
    assert "(max_age=60)" in message and "Serve it anyway with max_age=None" in message


def test_an_unusable_cache_folder_does_not_break_the_read(lw, tmp_path, caplog):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    qid = lw.demo.queries["markets"]
    frame = read_watch_query(
        qid, url=lw.url, api_key=lw.admin_key, progress=False, cache_dir=blocker / "cache"
    )
    assert len(frame) == 8 and frame.attrs["watch"]["source"] == "server cache"
    assert "could not cache" in caplog.text


def test_the_folder_is_pruned_to_its_size_cap_oldest_first(store, monkeypatch):
    frame = decoded("27-typed-pg-json", "numpy_nullable")
    paths = []
    for minute in range(3):  # d_now-style parameters: a new entry for every read
        key = wc.CacheKey.for_read(SERVER, 7, {"at": f"2024-01-01 00:0{minute}"}, "numpy_nullable")
        paths.append(store.store(key, frame, query=make_query(), is_default=False))
        os.utime(paths[-1], (1_000 + minute, 1_000 + minute))
    size = paths[0].stat().st_size
    monkeypatch.setenv(wc.MAX_BYTES_ENV, str(2 * size + size // 2))
    assert store.prune() == 1
    assert [p.exists() for p in paths] == [False, True, True]
    monkeypatch.setenv(wc.MAX_BYTES_ENV, "0")
    key = wc.CacheKey.for_read(SERVER, 7, {"at": "later"}, "numpy_nullable")
    newest = store.store(key, frame, query=make_query(), is_default=False)
    assert newest.exists() and not any(p.exists() for p in paths)  # the new entry is kept


def test_a_bad_size_cap_says_what_is_expected(monkeypatch):
    monkeypatch.setenv(wc.MAX_BYTES_ENV, "lots")
    with pytest.raises(ConfigError, match="number of bytes"):
        wc.max_cache_bytes()


@pytest.mark.parametrize("where", ["under-a-file", "is-a-file"])
@pytest.mark.parametrize("given_by", ["argument", "environment"])
def test_offline_with_an_unusable_cache_folder_is_a_config_error(
    lw, cached_read, tmp_path, monkeypatch, where, given_by
):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    folder = blocker / "cache" if where == "under-a-file" else blocker
    options = {"cache_dir": folder} if given_by == "argument" else {}
    if given_by == "environment":
        monkeypatch.setenv(wc.CACHE_DIR_ENV, str(folder))
    lw.counters.reset()
    with pytest.raises(ConfigError) as info:
        cached_read(lw.demo.queries["markets"], offline=True, **options)
    message = str(info.value)
    assert str(folder) in message
    assert wc.CACHE_DIR_ENV in message and "cache_dir=" in message
    assert lw.counters.requests() == 0


@pytest.mark.parametrize("bad", [123, "", "   "])
def test_a_cache_dir_that_is_no_path_is_a_config_error(bad):
    with pytest.raises(ConfigError, match="cache_dir"):
        wc.ResultCache(bad)


# --------------------------------------------------------------------------- ad-hoc SQL

ADHOC = (
    "SELECT m.symbol, p.day, p.price FROM prices p JOIN markets m ON m.id = p.market_id "
    "WHERE m.symbol = '{{ sym }}' ORDER BY p.day LIMIT 3"
)
ADHOC_POST = "/api/query_results"


@pytest.fixture
def cached_sql(lw, cache_dir):
    def run(text=ADHOC, source="demo-sqlite", params=None, **kw):
        kw.setdefault("progress", False)
        params = {"sym": "WETH"} if params is None else params
        return run_sql(text, source, params, url=lw.url, api_key=lw.admin_key, **kw)

    return run


def test_adhoc_results_are_kept_and_served_offline_by_name_or_id(lw, cached_sql, monkeypatch):
    online = cached_sql()
    assert online.attrs["watch"]["source"] == "fresh run"
    lw.counters.reset()
    monkeypatch.setenv(wc.OFFLINE_ENV, "1")

    by_name = cached_sql()  # the same call, default max_age=0: the last stored run
    by_id = cached_sql(
        f"  {ADHOC}\n", lw.demo.data_sources["sqlite"]
    )  # outer whitespace is no change

    assert lw.counters.requests() == 0
    for frame in (by_name, by_id):
        assert frame.attrs["watch"]["source"] == "local cache"
        pd.testing.assert_frame_equal(frame, online)
        assert frame.attrs["watch"]["data_source"] == "demo-sqlite"


def test_adhoc_offline_without_a_copy_says_what_is_missing(lw, cached_sql, monkeypatch):
    cached_sql()
    monkeypatch.setenv(wc.OFFLINE_ENV, "1")
    lw.counters.reset()
    with pytest.raises(NotFoundError, match="no cached copy") as info:
        cached_sql(params={"sym": "WBTC"})
    assert "{'sym': 'WBTC'}" in str(info.value) or '"sym":"WBTC"' in str(info.value)
    with pytest.raises(NotFoundError, match="no cached copy"):
        cached_sql(ADHOC.replace("LIMIT 3", "LIMIT 4"))
    with pytest.raises(ConfigError, match="data source 'demo-nowhere'") as info:
        cached_sql(source="demo-nowhere")
    assert "offline" in str(info.value)
    with pytest.raises(ConfigError, match="cache=False"):
        cached_sql(cache=False)
    assert lw.counters.requests() == 0


def test_adhoc_offline_before_any_listing_takes_an_id_only(local_watch, cache_dir):
    url, source = local_watch.url, local_watch.add_data_source("db")
    with pytest.raises(ConfigError, match="never listed") as info:
        run_sql("SELECT 1 AS one", "db", url=url, offline=True, progress=False)
    assert "data_source=" in str(info.value)
    with pytest.raises(NotFoundError, match="no cached copy"):
        run_sql("SELECT 1 AS one", source, url=url, offline=True, progress=False)
    assert local_watch.counters.requests() == 0


def test_adhoc_online_max_age_serves_the_local_copy_with_one_request(lw, cached_sql):
    first = cached_sql()
    lw.counters.reset()
    again = cached_sql(max_age=3600)
    assert again.attrs["watch"]["source"] == "local cache"
    assert lw.counters.executions == 0
    assert lw.counters.requests() == 1 == lw.counters.requests("GET", "/api/data_sources")
    pd.testing.assert_frame_equal(again, first)
    lw.counters.reset()
    assert cached_sql().attrs["watch"]["source"] == "fresh run"  # max_age=0 runs, as before
    assert lw.counters.requests("POST", ADHOC_POST) == 1


def test_adhoc_cache_false_neither_reads_nor_writes(lw, cached_sql, cache_dir):
    cached_sql(cache=False)
    assert [p for p in files(cache_dir) if p.suffix == ".parquet"] == []


def test_adhoc_cache_files_hold_no_key(lw, cached_sql, cache_dir):
    cached_sql()
    assert files(cache_dir)
    for path in files(cache_dir):
        assert lw.admin_key.encode() not in path.read_bytes()
        assert "WETH" not in path.name


# --------------------------------------------------------------------------- provenance


def test_a_saved_query_frame_names_its_data_source_listing_it_once(lw, cached_read):
    """The id comes with the result; the name costs one listing per server, remembered in the
    local cache, so later reads (other clients too) and local hits need no extra request."""
    qid = lw.demo.queries["positions"]
    source_id = requests.get(
        f"{lw.url}/api/queries/{qid}", headers={"Authorization": f"Key {lw.admin_key}"}, timeout=30
    ).json()["data_source_id"]
    sources = lw.demo.data_sources
    names = {sources["sqlite"]: "demo-sqlite", sources["typed"]: "demo-typed"}
    lw.counters.reset()

    fresh = cached_read(qid, max_age=0)
    again = cached_read(qid, max_age=0)
    hit = cached_read(qid)

    for frame in (fresh, again, hit):
        assert frame.attrs["watch"]["data_source_id"] == source_id
        assert frame.attrs["watch"]["data_source"] == names[source_id]
    assert lw.counters.requests("GET", "/api/data_sources") == 1


def test_a_query_key_frame_has_the_data_source_id_and_no_name(lw, cached_read):
    qid = lw.demo.queries["markets"]
    lw.counters.reset()
    frame = read_watch_query(qid, url=lw.url, api_key=lw.query_key(qid), progress=False)
    assert frame.attrs["watch"]["data_source_id"] in lw.demo.data_sources.values()
    assert frame.attrs["watch"]["data_source"] is None
    assert lw.counters.requests("GET", "/api/data_sources") == 0


def test_without_the_local_cache_a_read_names_only_what_its_client_knows(lw):
    """With cache=False nothing could remember a listing, so a read never pays a request for
    a name; a client that listed its data sources already names them."""
    qid = lw.demo.queries["positions"]
    kw = {"url": lw.url, "api_key": lw.admin_key, "progress": False, "cache": False}
    lw.counters.reset()
    frame = read_watch_query(qid, **kw)
    assert frame.attrs["watch"]["data_source_id"] in lw.demo.data_sources.values()
    assert frame.attrs["watch"]["data_source"] is None
    assert lw.counters.requests("GET", "/api/data_sources") == 0

    with WatchClient(lw.url, lw.admin_key) as client:
        names = {source.id: source.name for source in client.list_data_sources()}
        named = read_watch_query(qid, client=client, progress=False, cache=False)
    assert named.attrs["watch"]["data_source"] == names[named.attrs["watch"]["data_source_id"]]


def test_a_query_key_frame_takes_the_name_a_user_key_read_remembered(lw, cached_read):
    """A query key cannot list data sources, but a listing remembered in the local cache (by a
    user-key read of the same server) names them: the name is not a secret of the key."""
    qid = lw.demo.queries["markets"]
    user = cached_read(qid)
    lw.counters.reset()
    frame = read_watch_query(qid, url=lw.url, api_key=lw.query_key(qid), max_age=0, progress=False)
    assert frame.attrs["watch"]["data_source"] == user.attrs["watch"]["data_source"] is not None
    assert lw.counters.requests("GET", "/api/data_sources") == 0


def test_a_name_listed_by_another_thread_meanwhile_is_used(tmp_path):
    """Dashboard workers share one client: when another worker's listing lands between this
    worker's first look and its decision to list, the name comes from that listing (it was
    left None: a race seen in a shared-client dashboard read)."""
    from watch_pandas import _read

    class Client:
        url = "http://watch.test"
        looks = iter([None, {3: "db"}])  # first look: nothing; next: another thread listed

        def listed_data_sources(self):
            return next(self.looks, {3: "db"})

        def list_data_sources(self):  # pragma: no cover - must not be needed
            raise AssertionError("listed again")

    name = _read._data_source_name(Client(), wc.ResultCache(tmp_path), 3, can_list=True)
    assert name == "db"
