"""The dtype table: result column types → Arrow arrays → pandas dtypes, for both backends.

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

Column type → Arrow is :data:`TYPED_BUILDERS`; Arrow → pandas is :func:`to_series`, with
:data:`NULLABLE_DTYPES` for ``numpy_nullable`` (the local cache restores frames with it too).

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

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .. import _constants as C
from ..models import Column
from . import _memory

DtypeBackend = Literal["numpy_nullable", "pyarrow"]
_BACKENDS = ("numpy_nullable", "pyarrow")

_ISO_DATE = r"^\d{4}-\d{2}-\d{2}$"
_ISO_DATETIME = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?$"
_HAS_ZONE = r"(?:Z|[+-]\d{2}:\d{2}|[+-]\d{4})$"


def check_backend(dtype_backend: str) -> None:
    if dtype_backend not in _BACKENDS:
        from ..errors import ConfigError

        raise ConfigError(
            f"dtype_backend must be one of {', '.join(map(repr, _BACKENDS))}, "
            f"not {dtype_backend!r}."
        )


# --------------------------------------------------------------------------- building columns


def build_from_values(values: list[Any], col_type: str | None, infer_untyped: bool) -> Any:
    """Turn one column's JSON values into an Arrow array (or a list for ``object``)."""
    builder = TYPED_BUILDERS.get(col_type) if col_type is not None else None
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
    return infer(values, infer_untyped)


def build_integers(values: list[Any]) -> Any:
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
    return parse_iso_datetimes(pa.array(values, type=pa.string()))


TYPED_BUILDERS: dict[str, Callable[[list[Any]], Any]] = {
    C.TYPE_INTEGER: build_integers,
    C.TYPE_FLOAT: _build_floats,
    C.TYPE_BOOLEAN: _build_booleans,
    C.TYPE_STRING: _build_strings,
    C.TYPE_DATE: _build_dates,
    C.TYPE_DATETIME: _build_datetimes,
}


def parse_iso_datetimes(strings: pa.Array | pa.ChunkedArray) -> Any:
    """ISO strings → timestamp[ms] (naive) or timestamp[ms, UTC]; mixed → the strings as-is.

    Returns ``None`` when some value is not an ISO datetime.
    """
    # The usual columns: every value naive, or every value with an offset, at most ms digits.
    # Arrow's naive cast refuses any value with an offset and its zoned cast any value
    # without one, so a cast that succeeds needs no look at the values first. The first
    # value says which to try first: a cast that fails costs as much as one that succeeds.
    naive, zoned = pa.timestamp("ms"), pa.timestamp("ms", tz="UTC")
    first = _first_values(strings, 1).to_pylist()
    order = (zoned, naive) if first and re.search(_HAS_ZONE, first[0]) else (naive, zoned)
    for arrow_type in order:
        try:
            parsed = pc.cast(strings, arrow_type)
        except pa.ArrowInvalid:
            continue
        # An hour-only offset ("+05") is one Arrow takes but the rule below does not count
        # as a zone: such a column goes the careful way.
        if arrow_type is naive or not _has_hour_only_offset(strings):
            return parsed
        break
    n_valid = len(strings) - strings.null_count
    if n_valid == 0:
        return pc.cast(strings, pa.timestamp("ms"))
    # (nulls stay null in the match and the sum skips them: no copy without the nulls)
    n_zoned = pc.sum(pc.match_substring_regex(strings, _HAS_ZONE)).as_py() or 0
    if 0 < n_zoned < n_valid:
        return strings.to_pylist()  # mixed naive/aware: keep the server's text (see module doc)
    tz = "UTC" if n_zoned else None
    for unit in ("ms", "us", "ns"):
        try:
            return pc.cast(strings, pa.timestamp(unit, tz=tz))
        except pa.ArrowInvalid:
            continue
    return None


def _has_hour_only_offset(zoned: pa.Array | pa.ChunkedArray) -> bool:
    """Whether some value (each known to carry an offset) ends in ``+hh``/``-hh``."""
    sign = pc.utf8_slice_codeunits(zoned, -3, -2)
    return bool(pc.any(pc.is_in(sign, value_set=pa.array(["+", "-"]))).as_py())


def infer(values: list[Any], infer_untyped: bool) -> Any:
    """Careful inference for untyped columns (and values that defy their declared type)."""
    kinds = _kinds(values)
    if not kinds:
        return values  # all null / no rows: object of None
    if kinds == {int}:
        return build_integers(values)
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
            return infer_temporal(strings)
        return strings
    return values  # dict/list cells or a mix of kinds: untouched


# How many values of an untyped text column are looked at before the whole column is.
TEMPORAL_SAMPLE = 64


def infer_temporal(strings: pa.Array | pa.ChunkedArray) -> Any:
    """Untyped text → dates when every value is an ISO date, datetimes when every value is an
    ISO datetime, else the text unchanged.

    A sample settles most columns at once: one sampled value that is neither kind means not
    all are (text). A sample of dates is confirmed by Arrow's date cast, which takes exactly
    ``YYYY-MM-DD`` (10 bytes, digits and dashes, a real day), with every value 10 bytes long:
    that is the ISO date pattern, checked without matching each value against it. Anything
    else takes the whole-column pattern match (:func:`_infer_temporal_whole`).
    """
    if strings.null_count == len(strings):
        return _infer_temporal_whole(strings)
    head = _first_values(strings, TEMPORAL_SAMPLE)
    if _all_match(head, _ISO_DATE):
        dates = _strict_dates(strings)
        return dates if dates is not None else _infer_temporal_whole(strings)
    if not _all_match(head, _ISO_DATETIME):
        return strings  # a sampled value is neither a date nor a datetime
    stamps = _fixed_width_datetimes(strings)
    return stamps if stamps is not None else _infer_temporal_whole(strings, dates=False)


def _first_values(strings: pa.Array | pa.ChunkedArray, count: int) -> Any:
    """The first ``count`` non-null values (fewer if there are not as many), without
    copying the column."""
    size = count
    while True:
        head = strings.slice(0, size).drop_null()
        if len(head) >= count or size >= len(strings):
            return head.slice(0, count)
        size *= 4


def _all_match(strings: pa.Array | pa.ChunkedArray, pattern: str) -> bool:
    """Whether every non-null value matches (``False`` when there is none)."""
    return bool(pc.all(pc.match_substring_regex(strings, pattern)).as_py())


def _strict_dates(strings: pa.Array | pa.ChunkedArray) -> Any:
    """The dates when every value is a 10-byte string Arrow's date cast takes; else None."""
    lengths = pc.min_max(pc.binary_length(strings)).as_py()
    if lengths["min"] != 10 or lengths["max"] != 10:
        return None
    try:
        return pc.cast(strings, pa.date32())
    except pa.ArrowInvalid:
        return None


# Fixed-width naive datetimes: the byte at each position that is not a digit.
_DATETIME_SEPARATORS = {4: b"-", 7: b"-", 10: b" T", 13: b":", 16: b":", 19: b"."}


def _fixed_width_datetimes(strings: pa.Array | pa.ChunkedArray) -> Any:
    """The datetimes when every value is ``YYYY-MM-DD[T ]hh:mm``, ``…:ss`` or ``…:ss.fff``
    in one width and Arrow's naive cast takes them all; else None.

    Arrow's cast checks the digits, the calendar and that no value has an offset; the
    separators are checked here on the bytes (numpy, no copy). Together that is the ISO
    datetime pattern, without matching each value against it.
    """
    lengths = pc.min_max(pc.binary_length(strings)).as_py()
    width = lengths["min"]
    if width is None or width != lengths["max"] or width not in (16, 19, 21, 22, 23):
        return None
    chunks = strings.chunks if isinstance(strings, pa.ChunkedArray) else [strings]
    for chunk in chunks:
        if not _separators_in_place(chunk, width):
            return None
    try:
        return pc.cast(strings, pa.timestamp("ms"))
    except pa.ArrowInvalid:
        return None


def _separators_in_place(chunk: pa.Array, width: int) -> bool:
    """Whether every value of a ``string`` chunk (all ``width`` bytes long) has the datetime
    separators in place, read from its data buffer."""
    n_valid = len(chunk) - chunk.null_count
    if n_valid == 0:
        return True
    if not pa.types.is_string(chunk.type):
        return False  # (large_string: 64-bit offsets; not what the decoder makes)
    offsets = np.frombuffer(
        chunk.buffers()[1], dtype=np.int32, count=len(chunk) + 1, offset=chunk.offset * 4
    )
    start, end = int(offsets[0]), int(offsets[-1])
    if end - start != width * n_valid:
        return False  # a null holding bytes: not the plain layout this reads
    cells = np.frombuffer(chunk.buffers()[2], dtype=np.uint8, count=end - start, offset=start)
    cells = cells.reshape(n_valid, width)
    for position, allowed in _DATETIME_SEPARATORS.items():
        if position >= width:
            break
        column = cells[:, position]
        ok = column == allowed[0]
        for other in allowed[1:]:
            ok |= column == other
        if not ok.all():
            return False
    return True


def _infer_temporal_whole(strings: pa.Array | pa.ChunkedArray, *, dates: bool = True) -> Any:
    """The rule on every value (``dates=False``: some value is known not to be a date)."""
    if dates and _all_match(strings, _ISO_DATE):
        try:
            return pc.cast(strings, pa.date32())
        except pa.ArrowInvalid:
            return strings  # e.g. 2024-13-45: not a date after all
    if _all_match(strings, _ISO_DATETIME):
        parsed = parse_iso_datetimes(strings)
        if isinstance(parsed, (pa.Array, pa.ChunkedArray)):
            return parsed
    return strings


# --------------------------------------------------------------------------- to pandas


# Arrow → the numpy_nullable dtype (large_string: what a Parquet file may hand back).
NULLABLE_DTYPES = {
    pa.int64(): pd.Int64Dtype(),
    pa.float64(): pd.Float64Dtype(),
    pa.bool_(): pd.BooleanDtype(),
    pa.string(): pd.StringDtype(),
    pa.large_string(): pd.StringDtype(),
}


def to_series(built: Any, n_rows: int, dtype_backend: str) -> pd.Series:
    if isinstance(built, (list, np.ndarray)):
        # each value as it is (nested lists too), without pandas' look at the list first
        values = built if isinstance(built, np.ndarray) else objects(built, len(built))
        return pd.Series(values, dtype=object, index=pd.RangeIndex(n_rows), copy=False)
    if dtype_backend == "pyarrow":
        return built.to_pandas(types_mapper=pd.ArrowDtype)
    if built.type in _MASKED_ARRAYS:
        return pd.Series(_masked(built), index=pd.RangeIndex(n_rows), copy=False)
    if pa.types.is_date32(built.type) or pa.types.is_timestamp(built.type):
        return pd.Series(_datetimes(built), index=pd.RangeIndex(n_rows), copy=False)
    if built.type == pa.string():
        # pandas keeps text as large_string (64-bit offsets): made here, in ordinary pages
        built = pc.cast(built, pa.large_string(), memory_pool=_memory.plain_pool())
    return built.to_pandas(types_mapper=NULLABLE_DTYPES.get)


_MASKED_ARRAYS = {pa.int64(): pd.arrays.IntegerArray, pa.float64(): pd.arrays.FloatingArray}
_NAT = np.iinfo(np.int64).min  # what datetime64 reads as NaT


def objects(values: Iterable[Any], length: int) -> np.ndarray:
    """An ``object`` array of ``length`` values as they are (no look at nested lists)."""
    return np.fromiter(values, dtype=object, count=length)


def _masked(built: pa.Array | pa.ChunkedArray) -> Any:
    """An ``Int64``/``Float64`` array from the Arrow values with one copy (pandas' own
    conversion copies each batch's values and then joins them: a second copy)."""
    dtype = np.dtype(built.type.to_pandas_dtype())
    values = _memory.plain_empty(len(built), dtype)  # values under nulls are masked
    _copy_values(built, values, dtype)
    if built.null_count:
        mask = np.array(pc.is_null(built).to_numpy(zero_copy_only=False), dtype=bool)
    else:
        mask = np.zeros(len(values), dtype=bool)
    return _MASKED_ARRAYS[built.type](values, mask, copy=False)


def _datetimes(built: pa.Array | pa.ChunkedArray) -> Any:
    """A ``datetime64`` array of a date (seconds: 0001..9999 fit) or timestamp column with
    one copy, nulls NaT; the dtype Arrow's own conversion gives (its zone included)."""
    source: np.dtype[Any]
    if pa.types.is_date32(built.type):
        unit, scale, source = "s", 86_400, np.dtype(np.int32)  # days → seconds
    else:
        unit, scale, source = built.type.unit, 1, np.dtype(np.int64)
    values = _memory.plain_empty(len(built), np.int64)
    _copy_values(built, values, source, scale)
    if built.null_count:
        values[pc.is_null(built).to_numpy(zero_copy_only=False)] = _NAT
    naive = pd.Series(values.view(f"M8[{unit}]"), copy=False).array
    zone = getattr(built.type, "tz", None)
    if zone is None:
        return naive
    # a view with the zone's dtype, as Arrow names it (its own conversion copies once more)
    return naive.view(pa.array([], pa.timestamp(unit, tz=zone)).to_pandas().dtype)


def _copy_values(
    built: pa.Array | pa.ChunkedArray, out: np.ndarray, source: np.dtype, scale: int = 1
) -> None:
    """Each chunk's fixed-width values, read as ``source`` and times ``scale``, into ``out``."""
    position = 0
    for chunk in built.chunks if isinstance(built, pa.ChunkedArray) else [built]:
        if not len(chunk):
            continue
        offset = chunk.offset * source.itemsize
        values = np.frombuffer(chunk.buffers()[1], dtype=source, count=len(chunk), offset=offset)
        target = out[position : position + len(chunk)]
        if scale == 1:
            target[:] = values
        else:
            np.multiply(values, scale, out=target, dtype=out.dtype)  # in 64 bits: no overflow
        position += len(chunk)


def assemble(
    built: list[Any], columns: Sequence[Column], n_rows: int, dtype_backend: str
) -> pd.DataFrame:
    """The frame of the built columns; ``built`` is emptied as each column is converted, so
    the Arrow data and the pandas data of all columns are never alive together."""
    series = []
    for i in range(len(built)):
        series.append(to_series(built[i], n_rows, dtype_backend))
        built[i] = None
    built.clear()
    return frame_of(series, columns, n_rows)


def frame_of(series: list[pd.Series], columns: Sequence[Column], n_rows: int) -> pd.DataFrame:
    """The frame of each column's Series (``series`` is emptied)."""
    by_position = dict(enumerate(series))
    series.clear()
    frame = pd.DataFrame(by_position, index=pd.RangeIndex(n_rows), copy=False)
    del by_position
    frame.columns = pd.Index([c.name for c in columns])
    return frame
