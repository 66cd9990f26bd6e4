"""The public verbs: ``read_watch_query``, ``run_sql`` and ``clear_cache``.

Each checks its arguments, then hands the read to the pipeline in :mod:`watch_pandas._read`
(plan → local cache → execute → decode → stamp provenance), online or offline.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from . import _cache as _cache
from . import _output as _output
from . import _params as _params
from . import _read as _read
from ._client._args import as_id
from ._deadline import deadline
from ._progress import Progress, progress_listeners
from .errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from ._client import WatchClient
    from ._decode import DtypeBackend
    from ._output import Output, ReadOutput

__all__ = ["read_watch_query", "run_sql", "clear_cache"]

clear_cache = _cache.clear_cache


def read_watch_query(
    query_id: int,
    params: Mapping[str, Any] | None = None,
    *,
    max_age: int | None = None,
    url: str | None = None,
    api_key: str | None = None,
    profile: str | None = None,
    timeout: float | None = None,
    dtype_backend: DtypeBackend = "numpy_nullable",
    progress: Progress = None,
    client: WatchClient | None = None,
    cache: bool = True,
    offline: bool | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    output: Output = "pandas",
) -> ReadOutput:
    """Read a saved query's result into a DataFrame with dtypes from the result's column types.

    ``params`` are validated against the query's parameter definitions before anything runs;
    parameters left out take their saved defaults (dynamic dates resolved here). ``max_age``
    (seconds) accepts a cached result at most that old; ``None`` accepts any cached result and
    ``0`` always runs the query. ``timeout`` bounds the whole read; on the deadline or Ctrl-C
    the server job is cancelled. ``df.attrs["watch"]`` records where the frame came from.
    Integers beyond int64 (wei amounts) are exact Python ints in an ``object`` column, which
    pandas' ``df.to_parquet``/``df.to_feather`` refuse (``OverflowError: Python int too large
    to convert to C long``): save such frames with ``watch_pandas.to_parquet(df, path)``.

    Results are kept in a local Parquet cache (``cache_dir``, ``$WATCH_CACHE_DIR`` or the
    user cache folder); a repeated read it can serve costs one request and executes nothing
    (rules: :mod:`watch_pandas._cache`; with non-default parameters the server keeps no pointer
    to its newest result, so ``max_age=None`` serves the local copy while the query is
    unchanged: pass ``max_age`` to bound it). ``cache=False`` neither reads nor writes it.
    ``offline=True`` (or ``$WATCH_OFFLINE=1``) never touches the network and serves only
    from the cache; since nothing can run, ``max_age=0`` then serves the last stored run.

    ``output="arrow"`` returns a ``pyarrow.Table`` (the decoder's Arrow columns, provenance
    as JSON in the schema metadata ``watch``), ``output="polars"`` a polars DataFrame
    (``pip install "watch-pandas[polars]"``); ``dtype_backend`` then does not apply. Integers
    beyond int64 stay exact: see the Arrow page of the documentation.
    """
    query_id = as_id(query_id, "query_id")  # online and offline alike, before anything else
    max_age, timeout = _read.check_read_options(
        max_age=max_age, timeout=timeout, dtype_backend=dtype_backend
    )
    output = _output.check_output(output)
    results = _cache.open_cache(cache, offline, cache_dir)
    if _cache.is_offline(offline):
        assert results is not None  # open_cache refuses offline without a cache
        return _read.read_query_offline(
            results,
            _read.server_url(client, url, api_key, profile),
            query_id,
            params,
            max_age=max_age,
            dtype_backend=dtype_backend,
            progress=progress,
            output=output,
        )
    with _read.client_for(client, url, api_key, profile) as watch, deadline(timeout):
        query = watch.get_query(query_id)
        return _read.read_saved_query(
            watch,
            query,
            params,
            max_age=max_age,
            timeout=timeout,
            dtype_backend=dtype_backend,
            listeners=progress_listeners(progress),
            results=results,
            output=output,
        )


def run_sql(
    sql: str,
    data_source: int | str,
    params: Mapping[str, Any] | None = None,
    *,
    max_age: int | None = 0,
    url: str | None = None,
    api_key: str | None = None,
    profile: str | None = None,
    timeout: float | None = None,
    dtype_backend: DtypeBackend = "numpy_nullable",
    progress: Progress = None,
    client: WatchClient | None = None,
    cache: bool = True,
    offline: bool | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    output: Output = "pandas",
) -> ReadOutput:
    """Run ad-hoc SQL on a data source (id or name) and return the result as a DataFrame.

    ``{{ name }}`` placeholders are filled by the server from ``params`` (never by Python
    string formatting); every placeholder must be given. The SQL runs every time (``max_age=0``,
    as the web UI's Execute does): pass ``max_age`` seconds to accept a cached result of the
    same text and parameters, or ``None`` for one of any age (re-running a cell should not
    silently return an old count). Needs a user API key.

    Results are kept in the local cache like saved-query results (``cache``/``cache_dir`` as
    in :func:`read_watch_query`); with ``max_age`` other than ``0`` a local copy is served after
    one request (the data source list, which also checks the key). ``offline=True`` (or
    ``$WATCH_OFFLINE=1``) never touches the network: it serves the copy of the last online run
    of the same SQL, parameters and data source (``max_age=0`` included, since nothing can
    run; a positive ``max_age`` still bounds its age). Offline, a data source is found by id,
    or by a name listed online before. ``output`` as in :func:`read_watch_query`.
    """
    sql = _check_sql(sql)
    data_source = _check_data_source(data_source)
    max_age, timeout = _read.check_read_options(
        max_age=max_age, timeout=timeout, dtype_backend=dtype_backend
    )
    output = _output.check_output(output)
    wire = _params.adhoc_parameters(sql, params)
    results = _cache.open_cache(cache, offline, cache_dir)
    if _cache.is_offline(offline):
        assert results is not None  # open_cache refuses offline without a cache
        return _read.read_sql_offline(
            results,
            _read.server_url(client, url, api_key, profile),
            sql,
            data_source,
            wire,
            max_age=max_age,
            dtype_backend=dtype_backend,
            progress=progress,
            output=output,
        )
    listeners = progress_listeners(progress)
    with _read.client_for(client, url, api_key, profile) as watch, deadline(timeout):
        return _read.read_sql(
            watch,
            sql,
            data_source,
            wire,
            max_age=max_age,
            timeout=timeout,
            dtype_backend=dtype_backend,
            listeners=listeners,
            results=results,
            output=output,
        )


# -- options -------------------------------------------------------------------------------
def _check_sql(sql: object) -> str:
    if not isinstance(sql, str) or not sql.strip():
        raise ConfigError(f"sql must be the SQL text to run (a non-empty str), not {sql!r}.")
    return sql


def _check_data_source(data_source: object) -> int | str:
    """A data source id as an int (numpy integers too), or a name as given."""
    if isinstance(data_source, numbers.Integral) and not isinstance(data_source, bool):
        source_id = int(data_source)
        if source_id > 0:
            return source_id
    elif isinstance(data_source, str) and data_source.strip():
        return data_source
    raise ConfigError(
        "data_source must be a data source's id (a positive int such as 3) or its name "
        f"(a str), not {data_source!r}."
    )
