"""Saving frames to Parquet and Feather without losing a value or a dtype.

pandas' own ``df.to_parquet``/``df.to_feather`` cannot write an ``object`` column of Python
ints beyond int64 (wei amounts): pyarrow has no wider integer and raises ``OverflowError``.
:func:`to_parquet` and :func:`to_feather` write such frames with the local cache's encoding
(:mod:`watch_pandas._cache`): big integers as decimal strings, other ``object`` cells as JSON
text, and every column's dtype in the file's metadata, so :func:`read_parquet` and
:func:`read_feather` give back the same frame (exact Python ints, ``datetime64[s]``, time zones,
``df.attrs``). The file keeps the real column names and pandas' own metadata, so
``pd.read_parquet``, DuckDB or Spark read it too, the big integers as exact decimal text.

The index is not written (like ``index=False``): a named index is refused, move it into a
column with ``df.reset_index()`` first.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from ._cache import _encoding as _encoding
from .errors import ConfigError, LossyFormatError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import pyarrow as pa

__all__ = ["to_parquet", "read_parquet", "to_feather", "read_feather"]

Target = str | os.PathLike[str] | IO[bytes]

_MARK = "file"  # in the metadata: a saved frame, not a cache entry
_TEXT_KINDS = (_encoding.KIND_BIGINT, _encoding.KIND_JSON)


def to_parquet(frame: pd.DataFrame, path: Target, **kwargs: Any) -> None:
    """Write ``frame`` to a Parquet file that :func:`read_parquet` reads back exactly.

    Use it instead of ``df.to_parquet`` for frames with wei-sized integers (``object``
    columns of Python ints), which pandas' writer refuses. ``kwargs`` go to
    ``pyarrow.parquet.write_table`` (e.g. ``compression="zstd"``).
    """
    import pyarrow.parquet as pq

    table = _table_of(frame)
    with _opening(path):
        pq.write_table(table, path, **kwargs)


def read_parquet(path: Target) -> pd.DataFrame:
    """Read a file written by :func:`to_parquet` exactly; any other file as ``pd.read_parquet``."""
    import pandas as pd
    import pyarrow.parquet as pq

    frame = _frame_of(pq.read_table(path, use_pandas_metadata=False), path)
    if frame is None:
        if hasattr(path, "seek"):
            path.seek(0)
        return pd.read_parquet(path)
    return frame


def to_feather(frame: pd.DataFrame, path: Target, **kwargs: Any) -> None:
    """Write ``frame`` to a Feather (Arrow IPC) file that :func:`read_feather` reads back exactly.

    ``kwargs`` go to ``pyarrow.feather.write_feather`` (e.g. ``compression="zstd"``).
    """
    import pyarrow.feather as feather

    table = _table_of(frame)
    with _opening(path):
        feather.write_feather(table, path, **kwargs)


def read_feather(path: Target) -> pd.DataFrame:
    """Read a file written by :func:`to_feather` exactly; any other file as ``pd.read_feather``."""
    import pandas as pd
    import pyarrow.feather as feather

    frame = _frame_of(feather.read_table(path), path)
    if frame is None:
        if hasattr(path, "seek"):
            path.seek(0)
        return pd.read_feather(path)
    return frame


def why_unwritable(path: Path) -> str | None:
    """Why no file can be created at ``path``, found without writing anything; ``None`` when
    nothing is in the way."""
    if path.is_dir():
        return f"{path} is a folder, not a file"
    folder = path.parent
    existing = next(p for p in (folder, *folder.parents) if p.exists() or p == p.parent)
    if existing.exists() and not existing.is_dir():
        return f"{existing} is a file, not a folder"
    if existing != folder:
        return f"the folder {folder} does not exist; create it first"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"there is no permission to write into the folder {folder}"
    return None


@contextmanager
def _opening(path: Target) -> Iterator[None]:
    """Around a write: an OSError (pyarrow's words, or a bare NotADirectoryError) becomes one
    ConfigError naming the target and what is in its way."""
    try:
        yield
    except OSError as exc:
        if isinstance(path, (str, os.PathLike)):
            reason = why_unwritable(Path(path)) or exc.strerror or str(exc)
            raise ConfigError(f"Cannot write {os.fspath(path)}: {reason}.") from None
        raise ConfigError(f"Cannot write to the file object: {exc.strerror or exc}.") from None


# -- encoding ------------------------------------------------------------------------------
def _table_of(frame: pd.DataFrame) -> pa.Table:
    """``frame`` as an Arrow table: the cache's columns, real names and pandas' metadata."""
    import pandas as pd

    if not isinstance(frame, pd.DataFrame):
        raise ConfigError(f"Expected a pandas DataFrame, not {type(frame).__name__}.")
    names = _column_names(frame)
    if any(name is not None for name in frame.index.names):
        raise ConfigError(
            f"The frame's index ({', '.join(map(str, frame.index.names))}) would be lost: the "
            "index is not written. Move it into a column first: df.reset_index()."
        )
    meta = {"format": _encoding.FORMAT_VERSION, _MARK: True, "attrs": dict(frame.attrs)}
    try:
        table = _encoding.to_table(frame, meta)
    except _encoding.Uncacheable as exc:
        raise LossyFormatError(
            f"This frame cannot be written exactly: {exc}. Convert that column first (e.g. to "
            "str), or clear df.attrs if they are the problem."
        ) from None
    metadata = dict(table.schema.metadata)
    metadata[b"pandas"] = _pandas_metadata(frame, table, names)
    return table.rename_columns(names).replace_schema_metadata(metadata)


def _column_names(frame: pd.DataFrame) -> list[str]:
    names = list(frame.columns)
    if not all(isinstance(name, str) for name in names):
        raise ConfigError(
            "Parquet and Feather need column names that are strings; rename them first, e.g. "
            "df.columns = df.columns.astype(str)."
        )
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        verb = "appears" if len(repeated) == 1 else "appear"
        raise ConfigError(
            f"Column names must be unique in a file; {', '.join(map(repr, repeated))} {verb} "
            "more than once. Rename them first (e.g. df.columns = [...])."
        )
    return names


def _pandas_metadata(frame: pd.DataFrame, table: pa.Table, names: list[str]) -> bytes:
    """pandas' own metadata for the file, so ``pd.read_parquet`` restores the plain dtypes:
    made from the frame with its text-encoded columns as the strings the file holds."""
    import pandas as pd
    import pyarrow as pa

    kinds = [
        column["kind"]
        for column in json.loads(table.schema.metadata[_encoding.META_FIELD])["columns"]
    ]
    as_stored = frame.copy(deep=False)
    as_stored.index = pd.RangeIndex(len(frame))
    for position, kind in enumerate(kinds):
        if kind in _TEXT_KINDS:
            texts = table.column(position).to_pylist()
            as_stored.isetitem(position, pd.Series(texts, dtype=object))
    as_stored.columns = names
    return pa.Schema.from_pandas(as_stored, preserve_index=False).metadata[b"pandas"]


def _frame_of(table: pa.Table, path: Target) -> pd.DataFrame | None:
    """The frame saved in ``table``, or ``None`` if it was not written by this module."""
    raw = (table.schema.metadata or {}).get(_encoding.META_FIELD)
    if raw is None:
        return None
    where = path if isinstance(path, (str, os.PathLike)) else "the file"
    try:
        meta = json.loads(raw)
        if not (isinstance(meta, dict) and meta.get(_MARK)):
            return None  # a cache entry copied elsewhere: read it as plain Parquet
        if meta.get("format") != _encoding.FORMAT_VERSION:
            raise _encoding.CorruptEntry("metadata of another format version")
        positional = table.rename_columns(
            [f"c{i}" for i in range(table.num_columns)]
        ).replace_schema_metadata(table.schema.metadata)  # a rename drops the metadata
        frame = _encoding.frame_from_table(positional, meta)
    except (_encoding.CorruptEntry, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"{where} was written by watch_pandas but does not match its own metadata ({exc}); "
            "it was changed or cut short since. Write it again."
        ) from None
    frame.attrs = dict(meta.get("attrs") or {})
    return frame
