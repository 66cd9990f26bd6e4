"""What a read returns: the decoded frame as is, as a ``pyarrow.Table``, or as a polars frame.

Every read entry point takes ``output="pandas" | "arrow" | "polars"``; the pipeline
(:mod:`watch_pandas._read`) decodes and caches a frame, and converts it here at the very end,
so fresh, server-cache and local-cache reads give the same types. For Arrow and polars the
frame is decoded with the ``pyarrow`` backend (:func:`decode_backend`): its columns already
are the decoder's Arrow arrays, which the table takes without a copy.

Columns pandas keeps as ``object`` (docs/arrow.md says why each) become:

- integers beyond int64 → ``decimal128(38, 0)`` when every value has at most 38 digits,
  else their decimal text; the field metadata ``watch_pandas.type`` says ``bigint`` or
  ``bigint-decimal-text`` (polars takes no 76-digit decimals, so both targets share the rule);
- text only (a column mixing naive and zoned datetimes keeps the server's text) → ``string``;
- tuples (a sweep's multi-value parameter column) → Arrow lists of their one value type
  (``list<string>``), else JSON text as nested cells;
- nested or mixed cells → one JSON text per cell, ``watch_pandas.type: json``;
- no value at all → Arrow's ``null`` type.

Provenance (``df.attrs["watch"]``, never the key) is the schema metadata ``watch`` as JSON.
polars frames carry no metadata: provenance is only on the Arrow table.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from .errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import polars as pl
    import pyarrow as pa

    from ._decode import DtypeBackend

__all__ = [
    "Output",
    "ReadOutput",
    "OUTPUTS",
    "check_output",
    "decode_backend",
    "convert",
    "to_arrow",
    "to_polars",
    "PROVENANCE_KEY",
    "TYPE_KEY",
]

Output = Literal["pandas", "arrow", "polars"]
# What a read returns: a pandas DataFrame, a pyarrow.Table or a polars DataFrame, by
# ``output``. Spelled Any so callers that asked for a DataFrame keep using it as one.
ReadOutput: TypeAlias = Any
OUTPUTS: tuple[Output, ...] = ("pandas", "arrow", "polars")
PROVENANCE_KEY = b"watch"
TYPE_KEY = b"watch_pandas.type"
POLARS_HINT = 'output="polars" needs polars: pip install "watch-pandas[polars]".'

_DECIMAL_DIGITS = 38  # decimal128's precision, and the widest decimal polars reads


def check_output(output: object) -> Output:
    """``output`` if it is one of :data:`OUTPUTS` (polars importable for ``"polars"``), else
    a ConfigError naming the choices; checked before any request."""
    if output not in OUTPUTS or not isinstance(output, str):
        raise ConfigError(f"output must be 'pandas', 'arrow' or 'polars', not {output!r}.")
    if output == "polars":
        _polars()
    return output


def decode_backend(output: Output, dtype_backend: DtypeBackend) -> DtypeBackend:
    """The backend to decode with: Arrow and polars take the decoder's Arrow arrays as they
    are (``dtype_backend`` shapes pandas frames only)."""
    return dtype_backend if output == "pandas" else "pyarrow"


def convert(frame: pd.DataFrame, output: Output) -> Any:
    """``frame`` as the ``output`` asked for (the frame itself for ``"pandas"``)."""
    if output == "arrow":
        return to_arrow(frame)
    if output == "polars":
        return to_polars(frame)
    return frame


def to_arrow(frame: pd.DataFrame) -> pa.Table:
    """A decoded frame as a ``pyarrow.Table`` (Arrow-backed columns without a copy), with
    ``frame.attrs["watch"]`` as JSON in the schema metadata."""
    import pyarrow as pa

    arrays = []
    fields = []
    for position in range(frame.shape[1]):
        array, meaning = _column(frame.iloc[:, position])
        metadata = None if meaning is None else {TYPE_KEY: meaning.encode("ascii")}
        fields.append(pa.field(str(frame.columns[position]), array.type, metadata=metadata))
        arrays.append(array)
    provenance = json.dumps(frame.attrs.get("watch"), ensure_ascii=False, default=str)
    schema = pa.schema(fields, metadata={PROVENANCE_KEY: provenance.encode("utf-8")})
    return pa.Table.from_arrays(arrays, schema=schema)


def to_polars(frame: pd.DataFrame) -> pl.DataFrame:
    """A decoded frame as a polars DataFrame, by way of :func:`to_arrow` (no provenance:
    polars frames hold no metadata)."""
    pl = _polars()
    names = [str(name) for name in frame.columns]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ConfigError(
            f"polars needs unique column names, and this result repeats "
            f"{', '.join(map(repr, repeated))}: give them distinct names in the SQL "
            "(SELECT a.id AS a_id, b.id AS b_id), or read it with output='arrow' or 'pandas'."
        )
    return pl.from_arrow(to_arrow(frame), rechunk=False)


def _polars() -> Any:
    try:
        import polars
    except ImportError:
        raise ConfigError(POLARS_HINT) from None
    return polars


def _column(series: pd.Series) -> tuple[pa.Array | pa.ChunkedArray, str | None]:
    """One column as Arrow, and its meaning when the Arrow type alone does not say it."""
    import pandas as pd
    import pyarrow as pa

    if isinstance(series.dtype, pd.ArrowDtype):
        return pa.array(series.array), None  # the ChunkedArray it wraps: no copy
    if not pd.api.types.is_object_dtype(series.dtype):
        return pa.array(series), None
    values = series.tolist()
    kinds = set(map(type, values)) - {type(None)}  # the decoder's cells are plain JSON values
    if not kinds:
        return pa.nulls(len(values)), None
    if kinds == {int}:  # (a bool is its own kind here: never taken for an integer)
        return _big_integers(values)
    if kinds == {str}:
        try:
            return pa.array(values, pa.string()), None
        except UnicodeEncodeError:  # a lone surrogate has no UTF-8: its JSON escape does
            pass
    if kinds == {tuple}:  # never decoded cells (JSON has lists): a sweep's multi-value values
        listed = _tuple_lists(values)
        if listed is not None:
            return listed, None
    return _json_texts(values), "json"


def _tuple_lists(values: list[Any]) -> pa.Array | None:
    """Tuples of scalars of one kind (str, int, float or bool) as an Arrow list array."""
    import pyarrow as pa

    items = {type(item) for value in values if value is not None for item in value}
    if len(items) > 1 or not items <= {str, int, float, bool}:
        return None
    item_type = {str: pa.string(), int: pa.int64(), float: pa.float64(), bool: pa.bool_()}
    try:
        return pa.array(
            [None if value is None else list(value) for value in values],
            pa.list_(item_type[items.pop()] if items else pa.string()),
        )
    except (pa.ArrowInvalid, OverflowError, UnicodeEncodeError):
        return None


def _big_integers(values: list[Any]) -> tuple[pa.Array, str]:
    """The decimal text of each integer, cast by Arrow to ``decimal128(38, 0)`` when every
    value has at most 38 digits (a Decimal object per value would take twice as long)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    texts = pa.array([None if v is None else str(int(v)) for v in values], pa.string())
    digits = pc.utf8_length(pc.utf8_ltrim(texts, characters="-"))
    if (pc.max(digits).as_py() or 0) <= _DECIMAL_DIGITS:
        return pc.cast(texts, pa.decimal128(_DECIMAL_DIGITS, 0)), "bigint"
    return texts, "bigint-decimal-text"


def _json_texts(values: list[Any]) -> pa.Array:
    import pyarrow as pa

    try:
        texts = [None if v is None else json.dumps(v, ensure_ascii=False) for v in values]
        return pa.array(texts, pa.string())
    except UnicodeEncodeError:  # a lone surrogate: ASCII escapes keep it exactly
        return pa.array([None if v is None else json.dumps(v) for v in values], pa.string())
