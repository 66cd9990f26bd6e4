"""The public verbs: ``read_watch_query``, ``run_sql`` and ``clear_cache``.

They compose the layers below (client, params, execution, frames) and hold no protocol detail
of their own beyond choosing routes for the key kind (watch-api.md §10.4).
"""

from __future__ import annotations

import logging
import math
import numbers
import os
from collections.abc import Callable, Collection, Iterable, Mapping
from contextlib import contextmanager, suppress
from datetime import datetime
from typing import TYPE_CHECKING, Any

from . import _cache as _cache
from . import _params as _params
from ._client import deadline
from ._config import normalize_url, resolve_config
from ._execution import Execution, Outcome
from ._progress import ProgressEvent, ProgressListener, TextProgress, emit
from .errors import ConfigError, NotFoundError, ParameterError, QueryFailedError, WatchError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from ._client import ResultBody, WatchClient
    from ._decode import DtypeBackend
    from .models import Query, ResultMeta

__all__ = ["read_watch_query", "run_sql", "clear_cache"]
# Package-internal, not in __all__: dashboards.py reads each widget through the same steps as
# read_watch_query, so it uses open_cache, progress_listeners, client_for and read_saved_query.

log = logging.getLogger("watch_pandas")

clear_cache = _cache.clear_cache

Progress = bool | ProgressListener | Iterable[ProgressListener] | None

# A cached result of "any age" (the server's own default, sent explicitly: watch-api.md §10.2).
ANY_AGE = -1


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
) -> pd.DataFrame:
    """Read a saved query's result into a DataFrame with dtypes from the result's column types.

    ``params`` are validated against the query's parameter definitions before anything runs;
    parameters left out take their saved defaults (dynamic dates resolved here). ``max_age``
    (seconds) accepts a cached result at most that old; ``None`` accepts any cached result and
    ``0`` always runs the query. ``timeout`` bounds the whole read; on the deadline or Ctrl-C
    the server job is cancelled. ``df.attrs["watch"]`` records where the frame came from.
    Integers beyond int64 (wei amounts) are exact Python ints in an ``object`` column, which
    pandas' ``df.to_parquet`` refuses: save with ``watch_pandas.to_parquet(df, path)``.

    Results are kept in a local Parquet cache (``cache_dir``, ``$WATCH_CACHE_DIR`` or the
    user cache folder); a repeated read it can serve costs one request and executes nothing
    (rules: :mod:`watch_pandas._cache`; with non-default parameters the server keeps no pointer
    to its newest result, so ``max_age=None`` serves the local copy while the query is
    unchanged: pass ``max_age`` to bound it). ``cache=False`` neither reads nor writes it.
    ``offline=True`` (or ``$WATCH_OFFLINE=1``) never touches the network and serves only
    from the cache; since nothing can run, ``max_age=0`` then serves the last stored run.
    """
    max_age, timeout = check_read_options(
        max_age=max_age, timeout=timeout, dtype_backend=dtype_backend
    )
    results = open_cache(cache, offline, cache_dir)
    if _cache.is_offline(offline):
        server = _server_url(client, url, api_key, profile)
        return _read_offline(results, server, query_id, params, max_age, dtype_backend, progress)
    with client_for(client, url, api_key, profile) as watch, deadline(timeout):
        query = watch.get_query(query_id)
        return read_saved_query(
            watch,
            query,
            params,
            max_age=max_age,
            timeout=timeout,
            dtype_backend=dtype_backend,
            listeners=progress_listeners(progress),
            results=results,
        )


def read_saved_query(
    watch: WatchClient,
    query: Query,
    params: Mapping[str, Any] | None,
    *,
    max_age: int | None,
    timeout: float | None,
    dtype_backend: DtypeBackend,
    listeners: list[ProgressListener],
    results: _cache.ResultCache | None,
    saved: Collection[str] = (),
) -> pd.DataFrame:
    """Serve ``query`` from the local cache when allowed, else execute/fetch it (and cache it).

    ``saved``: names in ``params`` whose values are the server's saved settings (see
    :func:`watch_pandas._params.resolve_parameters`)."""
    query_id = query.id
    definitions = _params.parse_definitions(query.parameters)
    now = datetime.now()
    # Dropdown options are checked only when the query really runs: a cached entry exists
    # only for values the server already accepted, and a hit must cost no extra request.
    wire = _params.resolve_parameters(definitions, params, now=now, query_id=query_id, saved=saved)
    key = _cache.CacheKey.for_read(watch.url, query_id, wire, dtype_backend)
    is_default = _are_defaults(definitions, wire, now)
    if results is not None:
        cached = _from_cache(results, key, query, is_default, max_age)
        if cached is not None:
            _emit_done(listeners, query_id, cached)
            return cached
    if any(d.type == "query" for d in definitions):
        wire = _params.resolve_parameters(
            definitions,
            params,
            now=now,
            dropdown_options=_dropdown_lookup(watch, query_id),
            query_id=query_id,
            saved=saved,
        )
    query_key = watch.is_query_key_for(query)
    wanted_age = ANY_AGE if max_age is None else max_age

    def start():
        return watch.post_query_results(query_id, wire, max_age=wanted_age, stream=True)

    with deadline(timeout):
        execution = Execution(
            watch,
            query_id=query_id,
            query_url=watch.query_url(query_id),
            timeout=timeout,
            listeners=listeners,
        )
        with execution.final_event():
            outcome = execution.run(start)
            frame, meta = _read_result(
                watch,
                execution,
                outcome,
                dtype_backend,
                query_id=query_id,
                query_key=query_key,
                repost=lambda: watch.post_query_results(
                    query_id, wire, max_age=ANY_AGE, stream=True
                ),
            )
    source_id = meta.data_source_id if meta.data_source_id is not None else query.data_source_id
    name = _data_source_name(watch, results, source_id, can_list=not query_key)
    _stamp(frame, watch, meta, outcome, query=query, parameters=wire, data_source=name)
    if results is not None:
        _to_cache(results, key, frame, query, is_default)
    execution.report("done", source=frame.attrs["watch"]["source"])
    return frame


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
) -> pd.DataFrame:
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
    or by a name listed online before.
    """
    sql = _check_sql(sql)
    data_source = _check_data_source(data_source)
    max_age, timeout = check_read_options(
        max_age=max_age, timeout=timeout, dtype_backend=dtype_backend
    )
    wire = _params.adhoc_parameters(sql, params)
    results = open_cache(cache, offline, cache_dir)
    if _cache.is_offline(offline):
        server = _server_url(client, url, api_key, profile)
        return _run_offline(
            results, server, sql, data_source, wire, max_age, dtype_backend, progress
        )
    listeners = progress_listeners(progress)
    with client_for(client, url, api_key, profile) as watch, deadline(timeout):
        source = watch.resolve_data_source(data_source)
        _remember_sources(results, watch)
        key = _cache.CacheKey.for_sql(watch.url, source.id, sql, wire, dtype_backend)
        if results is not None and max_age != 0:
            cached = _lookup(results, key, max_age).frame
            if cached is not None:
                _emit_done(listeners, None, cached)
                return cached
        execution = Execution(watch, timeout=timeout, listeners=listeners)
        wanted_age = ANY_AGE if max_age is None else max_age
        with execution.final_event():
            outcome = execution.run(
                lambda: watch.execute_sql(
                    sql, source.id, wire or None, max_age=wanted_age, stream=True
                )
            )
            frame, meta = _read_result(
                watch,
                execution,
                outcome,
                dtype_backend,
                query_id=None,
                query_key=False,
                repost=None,
            )
        _stamp(frame, watch, meta, outcome, query=None, parameters=wire, data_source=source.name)
        if results is not None:
            _store(results, key, frame, None, False, what="the SQL")
        execution.report("done", source=frame.attrs["watch"]["source"])
        return frame


# -- options -------------------------------------------------------------------------------
DTYPE_BACKENDS = ("numpy_nullable", "pyarrow")


def check_read_options(
    *, max_age: object, timeout: object, dtype_backend: object
) -> tuple[int | None, float | None]:
    """Refuse bad read options before any request (a bad value must not cost an execution).

    Returns ``max_age`` and ``timeout`` as plain Python numbers (numpy scalars accepted)."""
    if dtype_backend not in DTYPE_BACKENDS:
        raise ConfigError(
            f"dtype_backend must be 'numpy_nullable' or 'pyarrow' (as in pandas' readers), "
            f"not {dtype_backend!r}."
        )
    return check_max_age(max_age), check_timeout(timeout)


def check_max_age(max_age: object) -> int | None:
    """``max_age`` as an int (``numpy.int64`` too), ``None`` kept; anything else refused."""
    if max_age is None:
        return None
    if isinstance(max_age, numbers.Integral) and not isinstance(max_age, bool) and max_age >= -1:
        return int(max_age)
    raise ConfigError(
        f"max_age must be a whole number of seconds (an int such as 600; 0 always runs), or "
        f"None for a cached result of any age, not {max_age!r}."
    )


def check_timeout(timeout: object) -> float | None:
    """``timeout`` as a float (numpy numbers too), ``None`` kept; anything else refused."""
    if timeout is None:
        return None
    if (
        isinstance(timeout, numbers.Real)
        and not isinstance(timeout, bool)
        and math.isfinite(timeout)
        and timeout > 0
    ):
        return float(timeout)
    raise ConfigError(f"timeout must be None or a number of seconds > 0, not {timeout!r}.")


def _check_sql(sql: object) -> str:
    if not isinstance(sql, str) or not sql.strip():
        raise ConfigError(f"sql must be the SQL text to run (a non-empty str), not {sql!r}.")
    return sql


def _check_data_source(data_source: object) -> int | str:
    """A data source id as an int (numpy integers too), or a name as given."""
    if isinstance(data_source, numbers.Integral) and not isinstance(data_source, bool):
        if data_source > 0:
            return int(data_source)
    elif isinstance(data_source, str) and data_source.strip():
        return data_source
    raise ConfigError(
        "data_source must be a data source's id (a positive int such as 3) or its name "
        f"(a str), not {data_source!r}."
    )


# -- local cache ---------------------------------------------------------------------------
def open_cache(cache: bool, offline: bool | None, cache_dir) -> _cache.ResultCache | None:
    """The local result cache to use (``None`` with ``cache=False``); refuses offline without it."""
    if not isinstance(cache, bool):
        raise ConfigError(f"cache must be True or False, not {cache!r}.")
    if not cache and _cache.is_offline(offline):
        raise ConfigError(
            "offline=True serves results only from the local cache, so it cannot be combined "
            "with cache=False."
        )
    return _cache.ResultCache(cache_dir) if cache else None


def _server_url(client, url, api_key, profile) -> str:
    """The server's normalised URL without any network access (offline reads)."""
    if client is not None:
        return client.url
    if url is not None:
        return normalize_url(url, source="the url= argument")
    return resolve_config(None, api_key, profile).url


def _are_defaults(definitions, wire: Mapping[str, Any], now: datetime) -> bool:
    """True when ``wire`` equals the saved defaults (the runs ``latest_query_data_id`` tracks)."""
    try:
        defaults = _params.resolve_parameters(definitions, None, now=now)
    except ParameterError:
        return False  # a parameter without a default: every run passes explicit values
    return _params.cache_key(defaults) == _params.cache_key(wire)


def _from_cache(results, key, query, is_default: bool, max_age: int | None):
    """The cached frame if the rules in :mod:`watch_pandas._cache` allow serving it."""
    return _lookup(results, key, max_age, query=query, is_default=is_default).frame


def _lookup(results, key, max_age: int | None, *, query=None, is_default: bool = False):
    """:meth:`ResultCache.read` under :func:`watch_pandas._cache.usable`; online, an unreadable
    cache folder is a miss, not a failed read."""

    def accept(info):
        return _cache.usable(info, query=query, is_default=is_default, max_age=max_age)

    try:
        found = results.read(key, accept)
    except OSError as exc:  # an unreadable cache folder must not break the read
        log.warning("local cache unavailable (%s); reading from the server", exc)
        return _cache.Lookup(None, None, str(exc))
    if found.frame is None:
        what = f"query {key.query_id}" if key.sql is None else "the SQL"
        log.debug("local cache not used for %s: %s", what, found.reason)
    return found


def _to_cache(results, key, frame, query, is_default: bool) -> None:
    _store(results, key, frame, query, is_default, what=f"query {query.id}")


def _store(results, key, frame, query, is_default: bool, *, what: str) -> None:
    try:
        results.store(key, frame, query=query, is_default=is_default)
        if query is not None:
            results.store_query(key.server, query)
    except Exception as exc:  # a cache that cannot write must never cost the user the frame
        log.warning("could not cache the result of %s: %s: %s", what, type(exc).__name__, exc)


def _read_offline(results, server, query_id, params, max_age, dtype_backend, progress):
    """Serve from the cache only; a clear NotFoundError when there is no usable copy."""
    try:
        query = results.load_query(server, query_id)
    except OSError as exc:  # a path under a file, no permission: nothing to serve from
        raise _cache.unusable_folder(results.directory, exc) from None
    where = f"in the local cache ({results.directory})"
    if query is None:
        raise NotFoundError(
            f"Offline: query {query_id} from {server} has never been read online, so there is "
            f"no cached copy {where}. Read it once online (offline=False, or unset "
            f"${_cache.OFFLINE_ENV}).",
            query_id=query_id,
        )
    definitions = _params.parse_definitions(query.parameters)
    wire = _params.resolve_parameters(definitions, params, query_id=query_id)
    key = _cache.CacheKey.for_read(server, query_id, wire, dtype_backend)
    found = _offline_lookup(results, key, max_age)
    frame = found.frame
    if frame is None:
        raise NotFoundError(
            f"Offline: cannot serve query {query_id} with parameters {_params.cache_key(wire)} "
            f"from {server}: {found.reason} for these parameters and dtype_backend ({where}). "
            "Read it online once with them, or relax max_age.",
            query_id=query_id,
        )
    _emit_done(progress_listeners(progress), query_id, frame)
    return frame


def _run_offline(results, server, sql, data_source, wire, max_age, dtype_backend, progress):
    """Serve ad-hoc SQL from the cache only (the data source resolved without the network)."""
    where = f"in the local cache ({results.directory})"
    source_id = _offline_source_id(results, server, data_source, where)
    key = _cache.CacheKey.for_sql(server, source_id, sql, wire, dtype_backend)
    found = _offline_lookup(results, key, max_age)
    if found.frame is None:
        raise NotFoundError(
            f"Offline: cannot serve this SQL with parameters {_params.cache_key(wire)} on data "
            f"source {source_id} of {server}: {found.reason} for this SQL text, these "
            f"parameters and dtype_backend ({where}). Run it online once with them, or relax "
            "max_age."
        )
    _emit_done(progress_listeners(progress), None, found.frame)
    return found.frame


def _offline_lookup(results, key, max_age: int | None):
    """The offline read: nothing can run, so ``max_age=0`` ("run it now") means the last
    stored run; an unusable cache folder is a ConfigError (there is nothing else to serve)."""
    try:
        return results.read(
            key,
            lambda info: _cache.usable(
                info, query=None, is_default=False, max_age=None if max_age == 0 else max_age
            ),
        )
    except OSError as exc:
        raise _cache.unusable_folder(results.directory, exc) from None


def _offline_source_id(results, server: str, data_source: int | str, where: str) -> int:
    """An id as given; a name through the data sources last listed online."""
    if isinstance(data_source, int) or data_source.strip().isdigit():
        return int(data_source)
    try:
        known = results.load_data_sources(server) or {}
    except OSError as exc:
        raise _cache.unusable_folder(results.directory, exc) from None
    for source_id, name in known.items():
        if name == data_source:
            return source_id
    listed = ", ".join(f"{name} (id {i})" for i, name in known.items())
    if listed:
        seen = f"It is not among the data sources last listed online: {listed}."
    else:
        seen = f"Its data sources were never listed online (no list is kept {where})."
    raise _cache.needs_network(
        f"Finding data source {data_source!r} of {server} by name",
        f"{seen} Pass its id (data_source=3) instead.",
    )


def _data_source_name(watch, results, source_id: int | None, *, can_list: bool) -> str | None:
    """A data source's name for provenance: known to this client or to the local cache, else
    listed once (a user key; a query key cannot list) and remembered; ``None`` if unknown."""
    if source_id is None:
        return None
    known = watch.listed_data_sources()
    if known is None and results is not None:
        with suppress(OSError):  # an unreadable cache folder is only a missing name
            known = results.load_data_sources(watch.url)
    if known is not None and source_id in known:
        return known[source_id]
    if not can_list or watch.listed_data_sources() is not None:
        return None
    try:
        watch.list_data_sources()
    except WatchError as exc:  # a name is worth a request, not the frame
        log.debug("data source %s left unnamed: %s", source_id, exc)
        return None
    _remember_sources(results, watch)
    return (watch.listed_data_sources() or {}).get(source_id)


def _remember_sources(results, watch) -> None:
    """Keep the data sources this client listed, for offline names and provenance."""
    names = watch.listed_data_sources()
    if results is None or names is None:
        return
    try:
        if results.load_data_sources(watch.url) != names:  # no rewrite (and fsync) per read
            results.store_data_sources(watch.url, names)
    except OSError as exc:  # a cache that cannot write must never cost the user the frame
        log.warning("could not remember the data sources in the local cache: %s", exc)


def _emit_done(listeners, query_id: int | None, frame: pd.DataFrame) -> None:
    emit(
        listeners,
        ProgressEvent(
            state="done", elapsed=0.0, query_id=query_id, source=frame.attrs["watch"]["source"]
        ),
    )


# -- steps ---------------------------------------------------------------------------------
@contextmanager
def client_for(client, url, api_key, profile):
    """``client`` as is, or a new WatchClient from the arguments that is closed afterwards."""
    if client is not None:
        yield client
        return
    from ._client import WatchClient

    owned = WatchClient(url, api_key, profile=profile)
    try:
        yield owned
    finally:
        owned.close()


def progress_listeners(progress: Progress) -> list[ProgressListener]:
    """The listeners ``progress=`` asks for (``None``/``True``: a widget or text line)."""
    if progress is False:
        return []
    if progress is None or progress is True:
        return [_default_progress(force=progress is True)]
    if callable(progress):
        return [progress]
    return list(progress)


def _default_progress(*, force: bool) -> ProgressListener:
    """A widget in a notebook with a widget front end, else a text line on stderr."""
    try:
        from .widgets import auto_progress
    except ImportError:
        return TextProgress(force=force)
    return auto_progress(force=force)


def _dropdown_lookup(watch, query_id: int) -> Callable[[Any], list[str]]:
    def options(definition) -> list[str]:
        rows = watch.get_dropdown_options(query_id, parameter_query_id=definition.query_id)
        return [str(row.get("value")) for row in rows]

    return options


def _read_result(
    watch,
    execution: Execution,
    outcome: Outcome,
    dtype_backend: DtypeBackend,
    *,
    query_id: int | None,
    query_key: bool,
    repost: Callable[[], Any] | None,
) -> tuple[pd.DataFrame, ResultMeta]:
    """The result decoded while it streams in: inline, by id, or (query keys) re-POSTed.

    A download by id that breaks off is decoded again from a fresh download
    (:meth:`WatchClient.with_result`): the query does not run again.
    """
    if outcome.body is not None:
        execution.report("downloading", "inline result")
        return _decode(outcome.body, dtype_backend)
    execution.report("downloading", f"result {outcome.result_id}")
    if not query_key:
        return watch.with_result(outcome.result_id, lambda body: _decode(body, dtype_backend))
    return _decode(_reposted_body(execution, query_id, repost), dtype_backend)


def _reposted_body(execution: Execution, query_id: int | None, repost: Callable[[], Any]):
    """The result of a query-key run, fetched by repeating its POST.

    A query key cannot read results by id when the hash differs from the saved query's
    (non-default parameters): repeat the POST, which now hits the fresh cached result.
    """
    for _ in range(3):
        response = repost()
        if response.job is None:
            return response.body
        again = execution.wait(response.job)
        if again.body is not None:
            return again.body
    raise QueryFailedError(
        f"Query {query_id} finished but its result could not be fetched with this query key; "
        "use a user API key.",
        query_id=query_id,
    )


def _decode(body: ResultBody | bytes, dtype_backend: DtypeBackend):
    from ._decode import read_result

    return read_result(body, dtype_backend=dtype_backend)


def _stamp(
    frame: pd.DataFrame,
    watch,
    meta: ResultMeta,
    outcome: Outcome,
    *,
    query: Query | None,
    parameters: Mapping[str, Any],
    data_source: str | None = None,
) -> None:
    """Record provenance in ``frame.attrs["watch"]`` (never the key)."""
    frame.attrs["watch"] = {
        "server": watch.url,
        "query_id": query.id if query else None,
        "query_name": query.name if query else None,
        "query_url": watch.query_url(query.id) if query else None,
        "data_source_id": meta.data_source_id
        if meta.data_source_id is not None
        else (query.data_source_id if query else None),
        "data_source": data_source,
        "result_id": meta.id if meta.id is not None else outcome.result_id,
        "retrieved_at": meta.retrieved_at,
        "runtime": meta.runtime,
        "parameters": dict(parameters),
        "job_id": outcome.job_id,
        "source": "fresh run" if outcome.fresh else "server cache",
        "sql": meta.query,
    }
