"""Decoding a result on several threads (``watch_pandas._decode._workers`` and the parallel
path of ``watch_pandas._rows.ResultSplitter``): how many workers, where the batches run, how
many are in flight, and that a batch cut inside a string is still read exactly.

The frames themselves are compared with one and several workers by the equality suites
(tests/test_frames.py, tests/test_scan.py run with both)."""

from __future__ import annotations

import array
import json
import os
import threading
from typing import Any

import pandas as pd
import pytest

from watch_pandas import _rows
from watch_pandas._decode import _workers, decode_result, read_result
from watch_pandas.errors import ConfigError


def body_of(columns: list[tuple[str, Any]], rows: list[dict[str, Any]]) -> bytes:
    data = {"columns": [{"name": n, "type": t} for n, t in columns], "rows": rows}
    return json.dumps({"query_result": {"id": 1, "data": data}}).encode()


def chunks_of(body: bytes, size: int) -> list[bytes]:
    return [body[i : i + size] for i in range(0, len(body), size)]


ROWS = [{"id": i, "label": f"row {i}", "any": [i, "x", None][i % 3]} for i in range(3000)]
BODY = body_of([("id", "integer"), ("label", "string"), ("any", None)], ROWS)


# --------------------------------------------------------------------------- how many


def test_the_default_is_the_cpus_this_process_may_use(monkeypatch) -> None:
    monkeypatch.delenv(_workers.ENV_WORKERS, raising=False)
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert _workers.decode_workers() == min(usable or 1, _workers.DEFAULT_MAX)


@pytest.mark.parametrize(("text", "expected"), [("1", 1), (" 3 ", 3), ("64", 64), ("", None)])
def test_the_environment_sets_the_worker_count(monkeypatch, text: str, expected) -> None:
    monkeypatch.setenv(_workers.ENV_WORKERS, text)
    assert _workers.decode_workers() == (expected or _workers.default_workers())


def test_an_argument_wins_over_the_environment(monkeypatch) -> None:
    monkeypatch.setenv(_workers.ENV_WORKERS, "5")
    assert _workers.decode_workers(2) == 2


@pytest.mark.parametrize("text", ["0", "-2", "two", "1.5"])
def test_a_bad_worker_count_is_a_config_error_saying_what_is_right(monkeypatch, text) -> None:
    monkeypatch.setenv(_workers.ENV_WORKERS, text)
    with pytest.raises(ConfigError, match=r"WATCH_DECODE_WORKERS must be a whole number ≥ 1"):
        read_result(BODY)


@pytest.mark.parametrize("given", [0, -1, True, 2.0, "3"])
def test_a_bad_workers_argument_is_a_config_error(given: Any) -> None:
    with pytest.raises(ConfigError, match=r"workers must be a whole number ≥ 1"):
        read_result(BODY, workers=given)


# --------------------------------------------------------------- where, how many at once


@pytest.fixture
def decoded_on(monkeypatch) -> list[int]:
    """The thread each batch was decoded on."""
    threads: list[int] = []
    parts = _rows.RowDecoder.parts

    def recording(self: _rows.RowDecoder, batch: Any) -> list[Any]:
        threads.append(threading.get_ident())
        return parts(self, batch)

    monkeypatch.setattr(_rows.RowDecoder, "parts", recording)
    return threads


def test_batches_are_decoded_on_the_worker_threads(decoded_on: list[int]) -> None:
    frame, _ = read_result(chunks_of(BODY, 2048), batch_bytes=2048, workers=3)
    pd.testing.assert_frame_equal(frame, decode_result(BODY)[0], check_exact=True)
    main = threading.get_ident()
    assert len(decoded_on) > 10
    assert decoded_on.count(main) == 1  # only the last rows, after the body ended
    assert decoded_on[-1] == main
    assert 1 < len(set(decoded_on)) <= 4


def test_one_worker_decodes_on_the_calling_thread(decoded_on: list[int]) -> None:
    read_result(chunks_of(BODY, 2048), batch_bytes=2048, workers=1)
    assert set(decoded_on) == {threading.get_ident()}


def test_a_result_smaller_than_its_first_batch_starts_no_thread(monkeypatch) -> None:
    started: list[int] = []
    executor = _workers.ThreadPoolExecutor

    def recording(*args: Any, **kwargs: Any) -> Any:
        started.append(1)
        return executor(*args, **kwargs)

    monkeypatch.setattr(_workers, "ThreadPoolExecutor", recording)
    expected = decode_result(BODY)[0]
    frame, _ = read_result(chunks_of(BODY, 2048), batch_bytes=4 * len(BODY) + 4, workers=2)
    pd.testing.assert_frame_equal(frame, expected, check_exact=True)
    assert started == []  # rows and columns on the calling thread: handing over costs more
    frame, _ = read_result(chunks_of(BODY, 2048), batch_bytes=2048, workers=2)
    pd.testing.assert_frame_equal(frame, expected, check_exact=True)
    assert started == [1]  # a larger one: one pool, for its batches and then its columns


def test_batches_in_flight_are_bounded() -> None:
    """The body is not read ahead of the decoding by more than a few batches."""
    pulled = consumed = 0
    ahead = []

    def source() -> Any:
        nonlocal pulled
        for chunk in chunks_of(BODY, 1024):
            pulled += 1
            ahead.append(pulled - consumed)
            yield chunk

    def make_decoder(columns: list[Any]) -> _rows.RowDecoder:
        return _rows.RowDecoder([c["name"] for c in columns], [c["type"] for c in columns])

    splitter = _rows.ResultSplitter(1024)
    with _workers.DecodePool(2) as pool:
        for event in splitter.events(source(), make_decoder, pool):
            consumed += isinstance(event, _rows.Batch)
    assert consumed > 20
    assert max(ahead) <= _rows.in_flight(2) + 2


def test_a_decoded_batch_s_buffer_takes_later_rows(monkeypatch) -> None:
    """Memory the read already has is used again: a new buffer for every batch is fresh pages
    (a page fault each 4 kB)."""
    buffers: list[bytearray] = []  # kept alive: a freed buffer's id could come back
    decode_closed = _rows._decode_closed

    def recording(buf: bytearray, brace: int, decoder: _rows.RowDecoder) -> list[Any]:
        buffers.append(buf)
        return decode_closed(buf, brace, decoder)

    monkeypatch.setattr(_rows, "_decode_closed", recording)
    frame, _ = read_result(chunks_of(BODY, 1000), batch_bytes=2048, workers=2)
    pd.testing.assert_frame_equal(frame, decode_result(BODY)[0], check_exact=True)
    distinct = {id(buf) for buf in buffers}
    assert len(buffers) > 20
    assert len(distinct) <= _rows.in_flight(2) + 1


@pytest.mark.parametrize("end", [0, 1, 2, 5, 9])
def test_a_row_boundary_is_looked_for_only_before_the_end(end: int) -> None:
    # past ``end`` a reused buffer holds rows of an earlier batch
    stale = b'},{"id": 1}'
    buf = b"[" * end + stale
    assert _rows._last_row_cut(buf, end) is None
    assert _rows._last_row_cut(buf, len(buf)) == (end, end + 2)


@pytest.mark.parametrize("whole", [False, True])
def test_a_body_of_one_batch_is_still_shared_by_the_workers(decoded_on, whole: bool) -> None:
    # the first round of batches is a quarter of batch_bytes: a small body is not one batch,
    # streamed or handed over whole
    source = BODY if whole else chunks_of(BODY, 1024)
    frame, _ = read_result(source, batch_bytes=len(BODY), workers=2)
    pd.testing.assert_frame_equal(frame, decode_result(BODY)[0], check_exact=True)
    assert len(decoded_on) >= 3  # batches for both workers (which one takes each: timing)
    assert threading.get_ident() not in decoded_on[:-1]


@pytest.mark.parametrize("workers", [1, 2])
def test_chunks_of_wider_items_are_read_by_their_bytes(workers: int) -> None:
    body = BODY + b" " * (-len(BODY) % 4)
    words = memoryview(array.array("I", body))  # len() counts 4-byte items
    chunks = [words[i : i + 64] for i in range(0, len(words), 64)]
    frame, _ = read_result(iter(chunks), batch_bytes=1024, workers=workers)
    pd.testing.assert_frame_equal(frame, decode_result(BODY)[0], check_exact=True)
    frame, _ = read_result(words, batch_bytes=1024, workers=workers)
    pd.testing.assert_frame_equal(frame, decode_result(BODY)[0], check_exact=True)


# --------------------------------------------------------------------------- cuts inside strings


@pytest.mark.parametrize("batch_bytes", [16, 64, 300])
@pytest.mark.parametrize("workers", [2, 5])
def test_a_cut_inside_a_string_is_read_exactly_on_workers(batch_bytes: int, workers: int) -> None:
    # Each label ends with "},{" + a row's start: the last boundary before a batch's end is
    # often inside a string, so a speculative cut fails and the rows are cut again.
    rows = [
        {"id": i, "s": f'x{i}"}}, {{"id": 1, "s": "', "n": [{"a": i}, {"b": i}]} for i in range(200)
    ]
    body = body_of([("id", "integer"), ("s", "string"), ("n", None)], rows)
    frame, _ = read_result(chunks_of(body, 7), batch_bytes=batch_bytes, workers=workers)
    expected, _ = decode_result(body)
    pd.testing.assert_frame_equal(frame, expected, check_exact=True)
    assert frame["s"].tolist() == [r["s"] for r in rows]


def test_after_a_cut_inside_a_string_the_batches_go_back_to_the_workers(decoded_on) -> None:
    # One label early in the body holds "},{": the batch cut there fails; the rows around it
    # are read on this thread, and the rest of the body on the workers again.
    rows = [{"id": i, "label": f"row {i}"} for i in range(3000)]
    rows[40]["label"] = 'tricky"}, {"id": 1, "label": "' * 40
    body = body_of([("id", "integer"), ("label", "string")], rows)
    frame, _ = read_result(chunks_of(body, 1024), batch_bytes=1024, workers=2)
    pd.testing.assert_frame_equal(frame, decode_result(body)[0], check_exact=True)
    main = threading.get_ident()
    later = decoded_on[len(decoded_on) // 2 : -1]  # the second half of the body, last rows aside
    assert len(later) > 10 and main not in later


@pytest.mark.parametrize("where", [0, 1, 700, 1499])
@pytest.mark.parametrize("workers", [2, 3])
def test_strings_full_of_row_boundaries_anywhere_are_read_exactly(where: int, workers: int) -> None:
    rows = [{"id": i, "label": f"row {i}", "any": [i, "x", None][i % 3]} for i in range(1500)]
    for k in range(where, min(where + 30, 1500), 3):
        rows[k]["label"] = '"}, {"id": 2, "label": "' * (k % 7 + 1)
        rows[k]["any"] = {"nested": '}, {"any": 1}, {', "list": [{"a": 1}, {"b": 2}]}
    body = body_of([("id", "integer"), ("label", "string"), ("any", None)], rows)
    for size in (97, 1024):
        frame, _ = read_result(chunks_of(body, size), batch_bytes=size, workers=workers)
        pd.testing.assert_frame_equal(frame, decode_result(body)[0], check_exact=True)


# --------------------------------------------------------------------------- memory


def test_freed_memory_is_handed_back_once_enough_is_freed(monkeypatch) -> None:
    from watch_pandas._decode import _memory

    handed_back: list[str] = []
    monkeypatch.setattr(_memory, "release_freed_memory", lambda: handed_back.append("x"))
    frame, _ = read_result(BODY, batch_bytes=2048, workers=2)
    assert handed_back == []  # a small result: not worth a trim (milliseconds each)
    pd.testing.assert_frame_equal(frame, decode_result(BODY)[0], check_exact=True)

    monkeypatch.setattr(_memory, "TRIM_BYTES", 1)  # every column frees "enough"
    frame, _ = read_result(BODY, batch_bytes=2048, workers=2)
    assert len(handed_back) == len(frame.columns) == 3
    pd.testing.assert_frame_equal(frame, decode_result(BODY)[0], check_exact=True)


def test_freed_bytes_are_counted_across_columns(monkeypatch) -> None:
    from watch_pandas._decode import _memory

    handed_back: list[str] = []
    monkeypatch.setattr(_memory, "release_freed_memory", lambda: handed_back.append("x"))
    monkeypatch.setattr(_memory, "TRIM_BYTES", 100)
    freed = _memory.FreedMemory()
    for size in (60, 30, 20, 99, 1, 250):
        freed.add(size)
    assert len(handed_back) == 3  # after 110, after 100, after 250


def test_handing_back_freed_memory_needs_only_the_c_library(monkeypatch) -> None:
    from watch_pandas._decode import _memory

    assert _memory.release_freed_memory() in (True, False)  # never raises
    monkeypatch.setattr(_memory, "_trim", None)
    monkeypatch.setattr(_memory, "_looked_up", True)
    assert _memory.release_freed_memory() is False


def test_plain_arrays_are_writable_and_hold_their_memory() -> None:
    import numpy as np
    import pyarrow as pa

    from watch_pandas._decode import _memory

    for length in (0, 3, 1 << 20):
        values = _memory.plain_empty(length, np.float64)
        assert (values.shape, values.dtype, values.flags.writeable) == ((length,), "float64", True)
        values[:] = 1.5  # ours to fill
        assert isinstance(values.base, pa.Buffer)  # the C allocator's, not numpy's
    with pytest.raises((TypeError, ValueError)):
        _memory.plain_empty(2, object)  # references cannot live in a plain buffer


def _arrow_conversion(array: Any) -> pd.Series:
    """pyarrow's own conversion, as the decoder used to call it."""
    import pyarrow as pa

    if pa.types.is_date32(array.type):
        array = array.cast(pa.timestamp("s"))
    mapping = {pa.int64(): pd.Int64Dtype(), pa.float64(): pd.Float64Dtype()}
    return array.to_pandas(types_mapper={**mapping, pa.string(): pd.StringDtype()}.get)


@pytest.mark.parametrize(
    "arrow_type",
    ["date32", "ms", "ms UTC", "us", "s +05:30", "ns Europe/Paris", "int64", "float64"],
)
def test_columns_made_in_plain_memory_equal_arrows_own_conversion(arrow_type: str) -> None:
    import numpy as np
    import pyarrow as pa

    from watch_pandas._decode._dtypes import to_series

    unit, _, zone = arrow_type.partition(" ")
    if unit in ("int64", "float64"):
        typ = pa.int64() if unit == "int64" else pa.float64()
        values = [7, None, -(2**53), 0, 2**53]
    elif unit == "date32":
        typ, values = pa.date32(), [-719162, None, 24855, 0, 2932896]  # 0001, 2038+, 9999
    else:
        typ, values = pa.timestamp(unit, tz=zone or None), [-(2**40), None, 2**40, 0, 1]
    whole = pa.array(values * 3, typ)
    # chunks as batches leave them: one sliced (an offset), one empty, nulls in each
    chunked = pa.chunked_array([whole.slice(1, 6), whole.slice(0, 0), whole.slice(7)], typ)
    series = to_series(chunked, len(chunked), "numpy_nullable")
    pd.testing.assert_series_equal(series, _arrow_conversion(chunked), check_index_type=False)
    assert series.isna().tolist() == [v is None for v in (values * 3)[1:]]
    values_array = series.array._data if unit in ("int64", "float64") else series.array._ndarray
    while isinstance(values_array, np.ndarray):
        values_array = values_array.base
    assert isinstance(values_array, pa.Buffer)  # the C allocator's pages, not numpy's


def test_text_is_handed_to_pandas_in_its_own_type_without_copying_the_characters() -> None:
    import pyarrow as pa

    from watch_pandas._decode._dtypes import to_series

    text = pa.chunked_array([pa.array(["a", None, "ccc"]), pa.array(["", "é"])])
    before = pa.default_memory_pool().bytes_allocated()
    series = to_series(text, 5, "numpy_nullable")
    assert pa.default_memory_pool().bytes_allocated() == before
    pd.testing.assert_series_equal(series, _arrow_conversion(text), check_index_type=False)
    stored = series.array._pa_array  # pandas' Arrow array: its characters are the batch's
    assert stored.type == pa.large_string()
    assert stored.chunk(0).buffers()[2].address == text.chunk(0).buffers()[2].address
