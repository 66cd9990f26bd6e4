"""Result bytes → correctly typed pandas DataFrames (docs/protocol.md#results).

Dtypes come from the result's ``columns[].type``, never from guessing text:

============  ======================  =====================================
column type   ``numpy_nullable``      ``pyarrow``
============  ======================  =====================================
integer       ``Int64``               ``int64[pyarrow]``
float         ``Float64``             ``double[pyarrow]``
boolean       ``boolean``             ``bool[pyarrow]``
string        ``string`` (NA ≠ "")    ``string[pyarrow]``
date          ``datetime64[s]``       ``date32[day][pyarrow]``
datetime      ``datetime64[ms]``      ``timestamp[ms][pyarrow]``
datetime (Z)  ``datetime64[ms, UTC]`` ``timestamp[ms, tz=UTC][pyarrow]``
============  ======================  =====================================

Decisions (both backends):

- Integers beyond int64 (wei amounts) → ``object`` column of exact Python ints. pandas'
  ``df.to_parquet``/``to_feather`` refuse them: save with :func:`watch_pandas.to_parquet`.
- JSON ints in a float column become floats when exactly representable (|v| ≤ 2**53);
  otherwise the column is ``object`` with the values untouched (never rounded).
- Dates use second resolution (0001-01-01 .. 9999-12-31 fit; nanoseconds would not).
- Datetimes use millisecond resolution (what the server sends); a value with finer digits
  moves the column to ``us``. Offsets are converted to UTC. A column mixing naive and
  zone-carrying values is ``object`` holding the server's ISO strings untouched (choosing a
  zone for the naive ones would silently shift them).
- A value that does not fit its declared type (say text in an integer column) sends the
  column through the untyped inference below, so no value is ever changed or dropped.
- ``type: null`` columns are inferred from the values: all ints → integer, ints and floats →
  float (object if an int is not exactly representable), all bools → boolean, all strings →
  string, and with ``infer_untyped=True`` strict ISO dates / datetimes → date / datetime.
  dict/list cells or mixed kinds → ``object`` with the Python values untouched. An untyped
  column with no non-null value (including an empty result) → ``object`` of ``None``: there
  is nothing to infer a type from, and ``object`` claims nothing.
- The frame has a RangeIndex and the columns of ``columns`` in order (duplicates kept).
"""

from __future__ import annotations

import dataclasses
import io
import json
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from . import _constants as C
from .errors import LossyFormatError, ServerError
from .models import Column, ResultMeta

__all__ = ["decode_result", "read_result", "decode_csv", "csv_loss_reason"]

DtypeBackend = Literal["numpy_nullable", "pyarrow"]
_BACKENDS = ("numpy_nullable", "pyarrow")

_MAX_EXACT_FLOAT_INT = 2**53

_ISO_DATE = r"^\d{4}-\d{2}-\d{2}$"
_ISO_DATETIME = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?$"
_HAS_ZONE = r"(?:Z|[+-]\d{2}:\d{2}|[+-]\d{4})$"
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


# --------------------------------------------------------------------------- public API


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
    _check_backend(dtype_backend)
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
        built.append(_build_from_values(values, column.type, infer_untyped))
        del values
    return _assemble(built, columns, len(rows), dtype_backend), meta


def read_result(
    source: bytes | str | Iterable[bytes] | Any,
    *,
    dtype_backend: DtypeBackend = "numpy_nullable",
    infer_untyped: bool = True,
    batch_bytes: int = 1 << 20,
) -> tuple[pd.DataFrame, ResultMeta]:
    """Like :func:`decode_result`, but decodes the rows in batches as the body arrives.

    ``source`` is the body (bytes/str), an iterable of byte chunks, or an open streaming
    ``requests.Response`` (read in chunks and closed). The whole body and a Python object per
    cell are never held at once: each batch of about ``batch_bytes`` is decoded with msgspec
    into the column types and turned into Arrow arrays. Bodies of an unexpected layout (rows
    before columns, duplicate column names) go through :func:`decode_result`. The frame and
    metadata are the same as :func:`decode_result` gives for the same body.
    """
    from ._rows import Batch, Finished, ResultSplitter, RowDecoder, Whole, plain_names

    _check_backend(dtype_backend)
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
            return RowDecoder(names, [c.type for c in columns])

        for event in ResultSplitter(batch_bytes).events(chunks, make_decoder):
            if isinstance(event, Whole):
                return decode_result(
                    event.body, dtype_backend=dtype_backend, infer_untyped=infer_untyped
                )
            if isinstance(event, Batch):
                n_rows += len(event.parts[0]) if event.parts else 0
                for part, column_parts in zip(event.parts, parts, strict=True):
                    column_parts.append(part)
                event.parts.clear()
            elif isinstance(event, Finished):
                result = _query_result_object(_loads(event.document))
                meta = dataclasses.replace(ResultMeta.from_json(result), columns=columns)
        built = []
        for column in columns:
            built.append(_merge_parts(parts.pop(0), column.type, n_rows, infer_untyped))
        return _assemble(built, columns, n_rows, dtype_backend), meta
    finally:
        close()


def _chunks_of(source: Any, batch_bytes: int) -> tuple[Iterable[bytes], Callable[[], None]]:
    """Byte chunks of a body, a chunk iterable or a streaming response, and how to close it."""
    if isinstance(source, str):
        source = source.encode("utf-8")
    if isinstance(source, (bytes, bytearray, memoryview)):
        view = memoryview(source)
        step = max(1, batch_bytes)
        return (bytes(view[i : i + step]) for i in range(0, len(view), step)), lambda: None
    if hasattr(source, "iter_content"):
        return source.iter_content(chunk_size=1 << 20), source.close
    return source, getattr(source, "close", lambda: None)


def _merge_parts(parts: list[Any], col_type: str | None, n_rows: int, infer_untyped: bool) -> Any:
    """Join a column's batch parts into what :func:`_build_from_values` gives for all rows."""
    from ._rows import ExactInts

    if col_type == C.TYPE_INTEGER and any(isinstance(p, ExactInts) for p in parts):
        exact = (pa.int64(), pa.null())
        if all(isinstance(p, ExactInts) or getattr(p, "type", None) in exact for p in parts):
            # what _build_integers gives: every value an int or None, some beyond int64
            ints: list[Any] = []
            for part in parts:
                ints.extend(part if isinstance(part, list) else part.to_pylist())
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
            return _build_from_values([None] * n_rows, col_type, infer_untyped)
    values: list[Any] = []
    for part in parts:
        values.extend(part if isinstance(part, list) else part.to_pylist())
    parts.clear()
    return _build_from_values(values, col_type, infer_untyped)


def _finish_column(chunked: pa.ChunkedArray, col_type: str | None, infer_untyped: bool) -> Any:
    """The column from parts that all fit; ``None`` when the values must be looked at again."""
    try:
        if col_type == C.TYPE_DATE:
            return pc.cast(chunked, pa.date32())
        if col_type == C.TYPE_DATETIME:
            return _parse_iso_datetimes(chunked)
    except (pa.ArrowInvalid, pa.ArrowTypeError, ValueError):
        return None
    if col_type not in _TYPED_BUILDERS and pa.types.is_string(chunked.type):
        return _infer_temporal(chunked) if infer_untyped else chunked
    return chunked


def csv_loss_reason(columns: Sequence[Column], *, date_format: str, time_format: str) -> str | None:
    """Say what a CSV/TSV of a result with these columns would lose, or ``None`` if nothing.

    ``date_format``/``time_format`` are the org's moment formats (``client_config.dateFormat``
    and the time part of ``dateTimeFormat``), which the server applies to date/datetime
    columns in CSV downloads (docs/protocol.md#csv-and-tsv-downloads). Only integer, float
    and boolean columns, and date columns under a format with day, month and 4-digit year,
    survive a CSV exactly.
    """
    untyped = [c.name for c in columns if c.type is None]
    strings = [c.name for c in columns if c.type == C.TYPE_STRING]
    reasons = []
    if untyped:
        reasons.append(
            f"{_names(untyped)} {'has' if len(untyped) == 1 else 'have'} no type, so the CSV text "
            "cannot be decoded to the JSON values (numbers, text, True/False, nulls and JSON "
            "cells look alike)"
        )
    if strings:
        reasons.append(
            f"{_names(strings)} (string): null and the empty string are both an empty field"
        )
    for column in columns:
        if column.type not in (None, C.TYPE_STRING):
            reason = _column_loss(column, date_format, time_format)
            if reason:
                reasons.append(reason)
    if not reasons:
        return None
    return "a CSV download would differ from the JSON result: " + "; ".join(reasons) + "."


def _names(names: list[str]) -> str:
    return ("column " if len(names) == 1 else "columns ") + ", ".join(map(repr, names))


def decode_csv(
    body: bytes | str,
    columns: Sequence[Column],
    *,
    date_format: str = "DD/MM/YY",
    time_format: str = "HH:mm",
    delimiter: str = ",",
    dtype_backend: DtypeBackend = "numpy_nullable",
) -> pd.DataFrame:
    """Parse a .csv/.tsv download into the frame :func:`decode_result` would give.

    ``columns`` are the result's columns (types from its JSON metadata), the formats are
    the org's. Raises :class:`LossyFormatError` when the CSV cannot represent this result
    faithfully (see :func:`csv_loss_reason`) or a value does not parse as its column type.
    """
    _check_backend(dtype_backend)
    if isinstance(body, str):
        body = body.encode("utf-8")
    reason = csv_loss_reason(columns, date_format=date_format, time_format=time_format)
    if reason is not None:
        raise LossyFormatError(reason)
    if not columns:
        if body.strip():
            raise ServerError("The CSV has data but the result has no columns.")
        return pd.DataFrame(index=pd.RangeIndex(0))
    table = _read_csv_strings(body, columns, delimiter)
    date_fmt = _moment_to_strftime(date_format)
    built = [
        _build_from_csv_strings(table.column(i), column, date_fmt)
        for i, column in enumerate(columns)
    ]
    return _assemble(built, tuple(columns), table.num_rows, dtype_backend)


# --------------------------------------------------------------------------- building columns


def _check_backend(dtype_backend: str) -> None:
    if dtype_backend not in _BACKENDS:
        from .errors import ConfigError

        raise ConfigError(
            f"dtype_backend must be one of {', '.join(map(repr, _BACKENDS))}, "
            f"not {dtype_backend!r}."
        )


def _build_from_values(values: list[Any], col_type: str | None, infer_untyped: bool) -> Any:
    """Turn one column's JSON values into an Arrow array (or a list for ``object``)."""
    builder = _TYPED_BUILDERS.get(col_type) if col_type is not None else None
    if builder is not None:
        try:
            built = builder(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
            built = None
        if built is not None:
            return built
        if col_type == C.TYPE_FLOAT and _kinds(values) <= {int, float}:
            # A number a double cannot hold exactly: keep the column's values exact
            # (object), never Int64 — a float column's dtype must not depend on the day's rows.
            return values
    return _infer(values, infer_untyped)


def _build_integers(values: list[Any]) -> Any:
    # pyarrow would silently truncate floats (1.5 → 1) and accept bools: insist on ints.
    if not _kinds(values) <= {int}:
        raise TypeError("not all values are integers")
    try:
        return pa.array(values, type=pa.int64())
    except OverflowError:
        return values  # beyond int64: exact Python ints in an object column


def _build_floats(values: list[Any]) -> Any:
    # pyarrow would turn bools into 1.0; it refuses ints a double cannot hold exactly.
    if not _kinds(values) <= {int, float}:
        raise TypeError("not all values are numbers")
    return pa.array(values, type=pa.float64())


def _kinds(values: list[Any]) -> set[type]:
    """The Python types of the non-null values (bool is its own kind, not an int)."""
    kinds = {type(v) for v in values}
    kinds.discard(type(None))
    return kinds


def _build_booleans(values: list[Any]) -> Any:
    return pa.array(values, type=pa.bool_())


def _build_strings(values: list[Any]) -> Any:
    return pa.array(values, type=pa.string())


def _build_dates(values: list[Any]) -> Any:
    return pc.cast(pa.array(values, type=pa.string()), pa.date32())


def _build_datetimes(values: list[Any]) -> Any:
    return _parse_iso_datetimes(pa.array(values, type=pa.string()))


_TYPED_BUILDERS: dict[str, Callable[[list[Any]], Any]] = {
    C.TYPE_INTEGER: _build_integers,
    C.TYPE_FLOAT: _build_floats,
    C.TYPE_BOOLEAN: _build_booleans,
    C.TYPE_STRING: _build_strings,
    C.TYPE_DATE: _build_dates,
    C.TYPE_DATETIME: _build_datetimes,
}


def _parse_iso_datetimes(strings: pa.Array) -> Any:
    """ISO strings → timestamp[ms] (naive) or timestamp[ms, UTC]; mixed → the strings as-is.

    Returns ``None`` when some value is not an ISO datetime.
    """
    try:
        # The usual column: naive values with at most ms digits. Arrow refuses any value with
        # a zone offset here, so success means no value carries one (no need to look first).
        return pc.cast(strings, pa.timestamp("ms"))
    except pa.ArrowInvalid:
        pass
    valid = strings.drop_null()
    if len(valid) == 0:
        return pc.cast(strings, pa.timestamp("ms"))
    zoned = pc.match_substring_regex(valid, _HAS_ZONE)
    n_zoned = pc.sum(zoned).as_py() or 0
    if 0 < n_zoned < len(valid):
        return strings.to_pylist()  # mixed naive/aware: keep the server's text (see module doc)
    tz = "UTC" if n_zoned else None
    for unit in ("ms", "us", "ns"):
        try:
            return pc.cast(strings, pa.timestamp(unit, tz=tz))
        except pa.ArrowInvalid:
            continue
    return None


def _infer(values: list[Any], infer_untyped: bool) -> Any:
    """Careful inference for untyped columns (and values that defy their declared type)."""
    kinds = _kinds(values)
    if not kinds:
        return values  # all null / no rows: object of None
    if kinds == {int}:
        return _build_integers(values)
    if kinds <= {int, float}:
        try:
            return pa.array(values, type=pa.float64())
        except pa.ArrowInvalid:
            return values  # an int a double cannot hold exactly: keep it exact
    if kinds == {bool}:
        return pa.array(values, type=pa.bool_())
    if kinds == {str}:
        try:
            strings = pa.array(values, type=pa.string())
        except UnicodeEncodeError:
            return values  # a lone surrogate ("\ud800" is valid JSON): no UTF-8 for it
        if infer_untyped:
            return _infer_temporal(strings)
        return strings
    return values  # dict/list cells or a mix of kinds: untouched


def _infer_temporal(strings: pa.Array) -> Any:
    valid = strings.drop_null()
    if pc.all(pc.match_substring_regex(valid, _ISO_DATE)).as_py():
        try:
            return pc.cast(strings, pa.date32())
        except pa.ArrowInvalid:
            return strings  # e.g. 2024-13-45: not a date after all
    if pc.all(pc.match_substring_regex(valid, _ISO_DATETIME)).as_py():
        parsed = _parse_iso_datetimes(strings)
        if isinstance(parsed, (pa.Array, pa.ChunkedArray)):
            return parsed
    return strings


# --------------------------------------------------------------------------- to pandas


_NULLABLE_TYPES = {
    pa.int64(): pd.Int64Dtype(),
    pa.float64(): pd.Float64Dtype(),
    pa.bool_(): pd.BooleanDtype(),
    pa.string(): pd.StringDtype(),
}


def _to_series(built: Any, n_rows: int, dtype_backend: str) -> pd.Series:
    if isinstance(built, list):
        return pd.Series(built, dtype=object, index=pd.RangeIndex(n_rows))
    if dtype_backend == "pyarrow":
        return built.to_pandas(types_mapper=pd.ArrowDtype)
    if pa.types.is_date32(built.type):
        built = pc.cast(built, pa.timestamp("s"))  # datetime64[s]: 0001..9999 fit
    if built.type in _MASKED_ARRAYS:
        return pd.Series(_masked(built), index=pd.RangeIndex(n_rows), copy=False)
    return built.to_pandas(types_mapper=_NULLABLE_TYPES.get)


_MASKED_ARRAYS = {pa.int64(): pd.arrays.IntegerArray, pa.float64(): pd.arrays.FloatingArray}


def _masked(built: pa.Array | pa.ChunkedArray) -> Any:
    """An ``Int64``/``Float64`` array from the Arrow values with one copy (pandas' own
    conversion copies each batch's values and then joins them: a second copy)."""
    dtype = np.dtype(built.type.to_pandas_dtype())
    chunks = built.chunks if isinstance(built, pa.ChunkedArray) else [built]
    values = np.concatenate(
        [np.empty(0, dtype)]
        + [
            np.frombuffer(
                c.buffers()[1], dtype=dtype, count=len(c), offset=c.offset * dtype.itemsize
            )
            for c in chunks
            if len(c)
        ]
    )  # writable, and its own memory; values under nulls are masked
    if built.null_count:
        mask = np.array(pc.is_null(built).to_numpy(zero_copy_only=False), dtype=bool)
    else:
        mask = np.zeros(len(values), dtype=bool)
    return _MASKED_ARRAYS[built.type](values, mask, copy=False)


def _assemble(
    built: list[Any], columns: Sequence[Column], n_rows: int, dtype_backend: str
) -> pd.DataFrame:
    """The frame of the built columns; ``built`` is emptied as each column is converted, so
    the Arrow data and the pandas data of all columns are never alive together."""
    index = pd.RangeIndex(n_rows)
    series = {}
    for i in range(len(built)):
        series[i] = _to_series(built[i], n_rows, dtype_backend)
        built[i] = None
    built.clear()
    frame = pd.DataFrame(series, index=index, copy=False)
    del series
    frame.columns = pd.Index([c.name for c in columns])
    return frame


# --------------------------------------------------------------------------- CSV


# moment token → strftime, in the order the server replaces them
# (docs/protocol.md#csv-and-tsv-downloads).
_MOMENT_TOKENS = (
    ("DD", "%d"),
    ("MM", "%m"),
    ("YYYY", "%Y"),
    ("YY", "%y"),
    ("HH", "%H"),
    ("mm", "%M"),
    ("ss", "%S"),
    ("SSS", "%f"),
)


def _moment_to_strftime(moment_format: str) -> str:
    """Translate an org moment format exactly as the server does for CSV downloads."""
    result = moment_format
    for token, directive in _MOMENT_TOKENS:
        result = result.replace(token, directive)
    return result


def _untranslated_letters(strftime_format: str) -> str:
    literal = re.sub(r"%.", "", strftime_format)
    return "".join(sorted({ch for ch in literal if ch.isalpha()}))


def _date_losses(strftime_format: str) -> list[str]:
    losses = []
    if "%Y" not in strftime_format:
        losses.append("the century (2-digit year)" if "%y" in strftime_format else "the year")
    if "%m" not in strftime_format:
        losses.append("the month")
    if "%d" not in strftime_format:
        losses.append("the day")
    leftover = _untranslated_letters(strftime_format)
    if leftover:
        losses.append(f"exactness (tokens the server does not translate: {leftover})")
    return losses


def _column_loss(column: Column, date_format: str, time_format: str) -> str | None:
    name, kind = column.name, column.type
    if kind == C.TYPE_DATE:
        losses = _date_losses(_moment_to_strftime(date_format))
        if losses:
            return f"column {name!r} (date): org format {date_format} drops " + _join(losses)
        return None
    if kind == C.TYPE_DATETIME:
        full = f"{date_format} {time_format}"
        fmt = _moment_to_strftime(full)
        losses = _date_losses(fmt)
        for directive, what in (
            ("%H", "the hour"),
            ("%M", "the minutes"),
            ("%S", "the seconds"),
            ("%f", "the milliseconds"),
        ):
            if directive not in fmt:
                losses.append(what)
        losses.append("the time zone (UTC values cannot be told from naive ones)")
        return f"column {name!r} (datetime): org format {full} drops " + _join(losses)
    if kind in (C.TYPE_INTEGER, C.TYPE_FLOAT, C.TYPE_BOOLEAN):
        return None
    return f"column {name!r} has the unknown type {kind!r}"


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _read_csv_strings(body: bytes, columns: Sequence[Column], delimiter: str) -> pa.Table:
    """Read every field as a string (empty → null) and check the header against ``columns``."""
    from pyarrow import csv as pa_csv

    names = [f"f{i}" for i in range(len(columns))]
    try:
        table = pa_csv.read_csv(
            io.BytesIO(body),
            read_options=pa_csv.ReadOptions(column_names=names, block_size=16 << 20),
            parse_options=pa_csv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
            convert_options=pa_csv.ConvertOptions(
                column_types={n: pa.string() for n in names},
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )
    except pa.ArrowInvalid as exc:
        raise ServerError(f"The CSV download does not fit the result's columns ({exc}).") from None
    if table.num_rows == 0:
        raise ServerError("The CSV download is empty; a header row was expected.")
    header = [table.column(i)[0].as_py() or "" for i in range(len(columns))]
    expected = [c.name for c in columns]
    if header != expected:
        raise ServerError(f"The CSV header {header} does not match the result columns {expected}.")
    return table.slice(1).combine_chunks()


def _build_from_csv_strings(strings: Any, column: Column, date_fmt: str) -> Any:
    if isinstance(strings, pa.ChunkedArray):
        strings = strings.combine_chunks()
    try:
        if column.type == C.TYPE_INTEGER:
            return _csv_integers(strings)
        if column.type == C.TYPE_FLOAT:
            return _csv_floats(strings)
        if column.type == C.TYPE_BOOLEAN:
            return _csv_booleans(strings)
        if column.type == C.TYPE_DATE:
            parsed = pc.strptime(strings, format=date_fmt, unit="s", error_is_null=False)
            return pc.cast(parsed, pa.date32())
    except (pa.ArrowInvalid, ValueError) as exc:
        raise LossyFormatError(
            f"column {column.name!r} ({column.type}): the CSV holds a value that is not a "
            f"plain {column.type} ({exc}); use the JSON result."
        ) from None
    raise LossyFormatError(f"column {column.name!r} ({column.type}) cannot be read from a CSV.")


def _csv_integers(strings: pa.Array) -> Any:
    try:
        return pc.cast(strings, pa.int64())
    except pa.ArrowInvalid:
        return _build_integers([None if s is None else int(s) for s in strings.to_pylist()])


_INT_TOKEN = r"^[+-]?\d+$"
_LONG_INT_TOKEN = r"^[+-]?\d{16,}$"


def _csv_floats(strings: pa.Array) -> Any:
    # Python writes floats with '.' or 'e'; a bare digit run was a JSON int. Long ones may
    # not fit a double exactly, so they go through the same rule as the JSON path.
    if pc.any(pc.match_substring_regex(strings, _LONG_INT_TOKEN)).as_py():
        values = [
            None if s is None else int(s) if re.match(_INT_TOKEN, s) else float(s)
            for s in strings.to_pylist()
        ]
        return _infer(values, infer_untyped=False)
    return pc.cast(strings, pa.float64())


def _csv_booleans(strings: pa.Array) -> Any:
    valid = strings.drop_null()
    if not pc.all(pc.is_in(valid, value_set=pa.array(["true", "false"])), min_count=0).as_py():
        raise ValueError("booleans must be written true/false")
    return pc.equal(strings, "true")
