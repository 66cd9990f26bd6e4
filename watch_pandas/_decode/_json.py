"""JSON result bodies → typed DataFrames: the whole body, or its rows decoded as it arrives.

:func:`read_result` hands the rows to the streaming engine (:mod:`watch_pandas._rows`) and
falls back to :func:`decode_result` for any layout the engine does not take; both give the same
frame and metadata for the same body. Column types → dtypes: :mod:`._dtypes`.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import Callable, Iterable
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .. import _constants as C
from ..errors import ServerError
from ..models import Column, ResultMeta
from . import _memory
from ._dtypes import (
    TYPED_BUILDERS,
    DtypeBackend,
    assemble,
    build_from_values,
    check_backend,
    frame_of,
    infer_temporal,
    objects,
    parse_iso_datetimes,
    to_series,
)
from ._workers import DecodePool, decode_workers

# --------------------------------------------------------------------------- JSON parsing


def _loads(body: bytes | str) -> Any:
    """Parse JSON with exact integers of any size (msgspec; the stdlib for v8's NaN tokens)."""
    import msgspec

    raw = body.encode("utf-8") if isinstance(body, str) else body
    try:
        return msgspec.json.decode(raw)
    except (msgspec.DecodeError, UnicodeDecodeError):
        pass  # e.g. v8's bare NaN tokens: the stdlib accepts those (and judges bad UTF-8)
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ServerError(f"The result body is not valid JSON ({exc}).") from None


def _query_result_object(parsed: Any) -> dict[str, Any]:
    if isinstance(parsed, dict) and isinstance(parsed.get("query_result"), dict):
        return parsed["query_result"]
    if isinstance(parsed, dict) and isinstance(parsed.get("data"), dict):
        return parsed
    if isinstance(parsed, dict) and "job" in parsed:
        raise ServerError(
            "Expected a query result but the server answered with a job; "
            "wait for the job to finish and fetch its result."
        )
    what = (
        f"an object with keys {sorted(parsed)[:5]}"
        if isinstance(parsed, dict)
        else "a " + (type(parsed).__name__)
    )
    raise ServerError(
        'Expected a query result ({"query_result": {"data": {"columns": [...], "rows": [...]}}}) '
        f"but got {what}."
    )


# --------------------------------------------------------------------------- whole body


def decode_result(
    body: bytes | str,
    *,
    dtype_backend: DtypeBackend = "numpy_nullable",
    infer_untyped: bool = True,
) -> tuple[pd.DataFrame, ResultMeta]:
    """Decode a JSON result body into a typed DataFrame and its :class:`ResultMeta`.

    ``body`` is ``{"query_result": {...}}`` or a bare ``query_result`` object (the trimmed
    inline form a query key gets is fine). Column order and dtypes come from
    ``data.columns``; a row missing a key gives null there; extra ``data`` keys (``log``,
    ``metadata``) are ignored. ``infer_untyped=False`` keeps ISO-looking strings in untyped
    columns as strings.
    """
    check_backend(dtype_backend)
    result = _query_result_object(_loads(body))
    data = result["data"]
    rows = data.get("rows") or []
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise ServerError("The result's data.rows is not a list of objects.")
    meta = ResultMeta.from_json(result)
    columns = meta.columns
    if not columns and rows:
        # No column list but rows: take the keys in first-seen order, types unknown.
        names = dict.fromkeys(key for row in rows for key in row)
        columns = tuple(Column(name=str(name)) for name in names)
        meta = dataclasses.replace(meta, columns=columns)
    built = []
    for column in columns:
        values = [row.get(column.name) for row in rows]
        built.append(build_from_values(values, column.type, infer_untyped))
        del values
    return assemble(built, columns, len(rows), dtype_backend), meta


# --------------------------------------------------------------------------- streamed body


def read_result(
    source: bytes | str | Iterable[bytes] | Any,
    *,
    dtype_backend: DtypeBackend = "numpy_nullable",
    infer_untyped: bool = True,
    batch_bytes: int = 4 << 20,
    on_rows: Callable[[int], None] | None = None,
    workers: int | None = None,
) -> tuple[pd.DataFrame, ResultMeta]:
    """Like :func:`decode_result`, but decodes the rows in batches as the body arrives.

    ``source`` is the body (bytes/str), an iterable of byte chunks, or an open streaming
    ``requests.Response`` (read in chunks and closed). The whole body and a Python object per
    cell are never held at once: each batch of about ``batch_bytes`` is decoded with msgspec
    into the column types and turned into Arrow arrays. Bodies of an unexpected layout (rows
    before columns, duplicate column names) go through :func:`decode_result`. The frame and
    metadata are the same as :func:`decode_result` gives for the same body. ``on_rows`` is
    told the number of rows decoded so far after each batch (download progress).

    ``workers`` threads decode the batches (the first few a quarter of ``batch_bytes``, so that a
    small body is shared too), then the columns (default: ``$WATCH_DECODE_WORKERS`` or one per
    CPU, see :mod:`._workers`); the frame is the same for any number.
    """
    from .._rows import Batch, Finished, ResultSplitter, RowDecoder, Whole, plain_names

    check_backend(dtype_backend)
    pool = DecodePool(decode_workers(workers))
    chunks, close = _chunks_of(source, batch_bytes)
    try:
        columns: tuple[Column, ...] = ()
        parts: list[list[Any]] = []
        n_rows = 0

        def make_decoder(raw_columns: list[Any]) -> RowDecoder | None:
            nonlocal columns, parts
            if not raw_columns or not all(isinstance(c, dict) and "name" in c for c in raw_columns):
                return None
            columns = tuple(Column.from_json(c) for c in raw_columns)
            names = [c.name for c in columns]
            if len(set(names)) != len(names):
                return None  # duplicates: each gets the same values, the careful path does that
            if not plain_names(names):
                return None  # keys the server escapes ('say "hi"'): the careful path
            parts = [[] for _ in columns]
            return RowDecoder(names, [c.type for c in columns], untyped_temporal=infer_untyped)

        for event in ResultSplitter(batch_bytes).events(chunks, make_decoder, pool):
            if isinstance(event, Whole):
                return decode_result(
                    event.body, dtype_backend=dtype_backend, infer_untyped=infer_untyped
                )
            if isinstance(event, Batch):
                n_rows += len(event.parts[0]) if event.parts else 0
                for part, column_parts in zip(event.parts, parts, strict=True):
                    column_parts.append(part)
                event.parts.clear()
                if on_rows is not None:
                    on_rows(n_rows)
            elif isinstance(event, Finished):
                result = _query_result_object(_loads(event.document))
                meta = dataclasses.replace(ResultMeta.from_json(result), columns=columns)

        freed = _memory.FreedMemory()

        def finish(i: int) -> pd.Series:
            column_parts, parts[i] = parts[i], []
            size = sum(_part_bytes(part) for part in column_parts)
            built = _merge_parts(column_parts, columns[i].type, n_rows, infer_untyped)
            series = to_series(built, n_rows, dtype_backend)
            del built, column_parts
            freed.add(size)  # this column's parts: room for the next ones
            return series

        # Column by column (each one's Arrow data is dropped once it is a Series), on the
        # pool's threads: Arrow's casts, pattern matches and conversions release the GIL.
        # The longest first (Python objects, then the most bytes), so that no thread is left
        # with a long column while the others have none.
        order = sorted(range(len(columns)), key=lambda i: _finish_cost(parts[i]), reverse=True)
        by_column = dict(zip(order, pool.map(finish, order), strict=True))
        return frame_of([by_column.pop(i) for i in range(len(columns))], columns, n_rows), meta
    finally:
        pool.close()
        close()


def _chunks_of(source: Any, batch_bytes: int) -> tuple[Iterable[bytes], Callable[[], None]]:
    """Byte chunks of a body, a chunk iterable or a streaming response, and how to close it."""
    if isinstance(source, str):
        source = source.encode("utf-8")
    if isinstance(source, (bytes, bytearray, memoryview)):
        view = memoryview(source).cast("B")
        step = max(1, batch_bytes // 4)  # the first batches' size: shared as a streamed body is
        return (bytes(view[i : i + step]) for i in range(0, len(view), step)), lambda: None
    if hasattr(source, "iter_content"):
        return source.iter_content(chunk_size=1 << 20), source.close
    return source, getattr(source, "close", lambda: None)


def _finish_cost(parts: list[Any]) -> int:
    """About how long a column takes to finish: its bytes, a Python object counted as a
    kilobyte (each is looked at again under the GIL)."""
    return sum(1024 * len(p) if isinstance(p, list) else _part_bytes(p) for p in parts)


def _part_bytes(part: Any) -> int:
    """About what a batch part holds apart from values the frame keeps (a list's Python
    objects become the column's own)."""
    return int(part.nbytes) if hasattr(part, "nbytes") else 8 * len(part)


def _merge_parts(parts: list[Any], col_type: str | None, n_rows: int, infer_untyped: bool) -> Any:
    """Join a column's batch parts into what :func:`build_from_values` gives for all rows (an
    integer column beyond int64 as the ``object`` array of its values, not their list)."""
    from .._rows import ExactInts, TemporalPart

    if any(isinstance(p, TemporalPart) for p in parts):
        joined = _join_temporal(parts)
        if joined is not None:
            parts.clear()
            return joined
        # batches that disagree: the column's rule decides on all of the server's text
        parts = [p.text() if isinstance(p, TemporalPart) else p for p in parts]
    if col_type in (C.TYPE_INTEGER, None) and any(isinstance(p, ExactInts) for p in parts):
        exact = (pa.int64(), pa.null())
        if all(isinstance(p, ExactInts) or getattr(p, "type", None) in exact for p in parts):
            # what build_integers gives (and untyped inference, which hands all-int columns
            # to it): every value an int or None, some beyond int64; made straight from the
            # parts (a list of all values first is three more passes over a million ints)
            each = (part if isinstance(part, list) else part.to_pylist() for part in parts)
            ints = objects(itertools.chain.from_iterable(each), n_rows)
            parts.clear()
            return ints
    if all(not isinstance(p, list) for p in parts):
        types = {p.type for p in parts} - {pa.null()}
        if len(types) == 1:
            arrow_type = types.pop()
            chunked = pa.chunked_array(
                [p if p.type == arrow_type else pa.nulls(len(p), arrow_type) for p in parts],
                type=arrow_type,
            )
            parts.clear()
            finished = _finish_column(chunked, col_type, infer_untyped)
            if finished is not None:
                return finished
            parts = [chunked]
        elif not types:  # no rows, or every value null
            parts.clear()
            return build_from_values([None] * n_rows, col_type, infer_untyped)
    values: list[Any] = []
    for part in parts:
        values.extend(part if isinstance(part, list) else part.to_pylist())
    parts.clear()
    return build_from_values(values, col_type, infer_untyped)


def _join_temporal(parts: list[Any]) -> pa.ChunkedArray | None:
    """A date or datetime column whose batches the scanner all read to one type (the others
    all null): what Arrow's cast of the whole column's text gives; else ``None``."""
    from .._rows import TemporalPart

    types = {p.array.type for p in parts if isinstance(p, TemporalPart)}
    if len(types) != 1:
        return None
    (arrow_type,) = types
    arrays = []
    for part in parts:
        if isinstance(part, TemporalPart):
            arrays.append(part.array)
        elif not isinstance(part, list) and part.null_count == len(part):
            arrays.append(pa.nulls(len(part), arrow_type))
        else:
            return None
    return pa.chunked_array(arrays, type=arrow_type)


def _finish_column(chunked: pa.ChunkedArray, col_type: str | None, infer_untyped: bool) -> Any:
    """The column from parts that all fit; ``None`` when the values must be looked at again."""
    try:
        if col_type == C.TYPE_DATE:
            return pc.cast(chunked, pa.date32())
        if col_type == C.TYPE_DATETIME:
            return parse_iso_datetimes(chunked)
    except (pa.ArrowInvalid, pa.ArrowTypeError, ValueError):
        return None
    if col_type not in TYPED_BUILDERS and pa.types.is_string(chunked.type):
        return infer_temporal(chunked) if infer_untyped else chunked
    return chunked
