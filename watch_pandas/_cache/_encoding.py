"""Frame ⇄ Arrow table: the exact encoding of a frame that the local cache's Parquet files and
:func:`watch_pandas.to_parquet` / ``to_feather`` share (package docstring: what a file holds).

Columns are named ``c0, c1, …`` (duplicate names survive); the real names, how each column is
restored and the caller's metadata travel as JSON in the schema metadata (:data:`META_FIELD`),
next to the exact Arrow schema (Parquet has no second-resolution timestamps).
"""

from __future__ import annotations

import base64
import json
import numbers
import operator
from collections.abc import Mapping
from itertools import repeat
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import pyarrow as pa

FORMAT_VERSION = 1
META_FIELD = b"watch_pandas.entry"
_SCHEMA_FIELD = b"watch_pandas.schema"

_KIND_PANDAS = "pandas"  # NumPy / nullable dtypes: restored with astype(dtype)
_KIND_ARROW = "arrow"  # pd.ArrowDtype columns
KIND_BIGINT = "bigint"  # object column of Python ints: decimal strings
KIND_JSON = "json"  # any other object column: one JSON text per cell
_JSON_TYPES = (str, int, float, bool, dict, list)


class CorruptEntry(Exception):
    """A cache file that cannot be trusted (internal: it is deleted and refetched)."""


class Uncacheable(Exception):
    """A frame this cache cannot store exactly (internal: the read goes on uncached)."""


def to_table(frame: pd.DataFrame, meta: dict[str, Any]) -> pa.Table:
    import pandas as pd
    import pyarrow as pa

    arrays, columns = [], []
    for position in range(frame.shape[1]):
        series = frame.iloc[:, position]
        name = frame.columns[position]
        if not isinstance(name, str):
            raise Uncacheable(f"column name {name!r} is not a string")
        dtype = series.dtype
        if isinstance(dtype, pd.ArrowDtype):
            arrays.append(pa.chunked_array(pa.array(series)))
            columns.append({"name": name, "kind": _KIND_ARROW})
        elif pd.api.types.is_object_dtype(dtype):
            try:
                kind, array = _encode_objects(series.tolist())
            except Uncacheable as exc:
                raise Uncacheable(f"the object column {name!r} {exc}") from None
            arrays.append(array)
            columns.append({"name": name, "kind": kind})
        else:
            try:
                arrays.append(pa.array(series))
            except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError) as exc:
                raise Uncacheable(f"column {name!r} ({dtype}): {exc}") from None
            columns.append({"name": name, "kind": _KIND_PANDAS, "dtype": str(dtype)})
    names = [f"c{i}" for i in range(len(arrays))]
    table = pa.Table.from_arrays(arrays, names=names) if arrays else pa.table({})
    meta = {**meta, "columns": columns, "rows": len(frame)}
    try:
        meta_text = json.dumps(meta, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise Uncacheable(f"provenance is not JSON: {exc}") from None
    return table.replace_schema_metadata(
        {
            META_FIELD: meta_text.encode("utf-8"),
            _SCHEMA_FIELD: base64.b64encode(table.schema.serialize().to_pybytes()),
        }
    )


def _encode_objects(values: list[Any]) -> tuple[str, pa.Array]:
    import numpy as np
    import pyarrow as pa

    kinds = set(map(type, values))
    kinds.discard(type(None))
    if kinds == {int}:  # the usual (wei amounts): exact Python ints, no check per value
        nulls = np.fromiter(map(operator.is_, values, repeat(None)), bool, len(values))
        return KIND_BIGINT, pa.array(list(map(str, values)), pa.string(), mask=nulls)
    present = [v for v in values if v is not None]
    if present and all(_is_integer(v) for v in present):
        # numpy integers among Python ints (a column touched by numpy arithmetic) are the
        # same integers: their decimal text is exact, and they read back as Python ints.
        return KIND_BIGINT, pa.array([None if v is None else str(v) for v in values], pa.string())
    odd = {type(v).__name__ for v in present if type(v) not in _JSON_TYPES}
    if odd:
        # json.dumps would turn a tuple into a list or a Decimal into an error: not exact.
        raise Uncacheable(f"holds {', '.join(sorted(odd))} values")
    try:
        texts = [None if v is None else json.dumps(v, ensure_ascii=False) for v in values]
    except (TypeError, ValueError) as exc:
        raise Uncacheable(f"holds a value JSON cannot keep: {exc}") from None
    return KIND_JSON, pa.array(texts, pa.string())


def _is_integer(value: object) -> bool:
    """A Python int or a numpy integer (never a bool, which is no wei amount)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def frame_from_table(table: pa.Table, meta: Mapping[str, Any]) -> pd.DataFrame:
    """The frame :func:`to_table` encoded (columns still named ``c0, c1, …``)."""
    import pandas as pd
    import pyarrow as pa

    try:
        schema = pa.ipc.read_schema(
            pa.py_buffer(base64.b64decode(table.schema.metadata[_SCHEMA_FIELD]))
        )
        if table.num_rows != meta["rows"] or table.num_columns != len(meta["columns"]):
            raise CorruptEntry("row or column count differs from the metadata")
        table = table.cast(schema)
        series = [
            _restore(table.column(i), column, table.num_rows)
            for i, column in enumerate(meta["columns"])
        ]
    except CorruptEntry:
        raise
    except (pa.ArrowException, OSError, ValueError, KeyError, TypeError) as exc:
        raise CorruptEntry(f"{type(exc).__name__}: {exc}") from None
    index = pd.RangeIndex(table.num_rows)
    frame = pd.DataFrame(dict(enumerate(series)), index=index)
    frame.columns = pd.Index([column["name"] for column in meta["columns"]])
    frame.attrs["watch"] = dict(meta["attrs"])
    from .._plot import register_accessor

    register_accessor()  # df.watch.plot() on frames served from here too
    return frame


def _restore(array: pa.ChunkedArray, column: Mapping[str, Any], n_rows: int) -> pd.Series:
    import pandas as pd

    index = pd.RangeIndex(n_rows)
    kind = column["kind"]
    if kind == _KIND_ARROW:
        return pd.Series(pd.arrays.ArrowExtensionArray(array), index=index)
    if kind == KIND_BIGINT:
        texts = array.to_pylist()
        if array.null_count:
            values = [None if v is None else int(v) for v in texts]
        else:
            values = list(map(int, texts))
        return pd.Series(values, dtype=object, index=index)
    if kind == KIND_JSON:
        values = [None if v is None else json.loads(v) for v in array.to_pylist()]
        return pd.Series(values, dtype=object, index=index)
    if kind == _KIND_PANDAS:
        from .._decode._dtypes import NULLABLE_DTYPES  # the decoder's table: the same dtypes

        series = array.to_pandas(types_mapper=NULLABLE_DTYPES.get)
        dtype = pd.api.types.pandas_dtype(column["dtype"])
        if series.dtype != dtype:
            series = series.astype(dtype)
        series.index = index
        return series
    raise CorruptEntry(f"unknown column kind {kind!r}")
