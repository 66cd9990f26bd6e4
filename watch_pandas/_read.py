"""One read, step by step: plan → local cache → execute → decode → stamp provenance.

Shared by the public verbs (:mod:`watch_pandas._api`) and by dashboards, which read each
widget through :func:`read_saved_query`. A :class:`ReadPlan` is made once per read: the wire
parameter values, the cache key and whether they are the saved defaults. The local cache's
rules live in :mod:`watch_pandas._cache`, the job's life in :mod:`watch_pandas._execution`,
the decoding in :mod:`watch_pandas._decode`.
"""

from __future__ import annotations

import functools
import logging
import math
import numbers
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from . import _cache as _cache
from . import _output as _output
from . import _params as _params
from . import _wording
from ._config import normalize_url, resolve_config
from ._deadline import deadline
from ._download import DownloadMeter
from ._execution import Execution, Outcome
from ._progress import Progress, ProgressEvent, ProgressListener, emit, progress_listeners
from .errors import ConfigError, NotFoundError, QueryFailedError, WatchError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from ._body import ExecutionResponse, ResultBody
    from ._client import WatchClient
    from ._decode import DtypeBackend
    from ._output import Output, ReadOutput
    from .models import Query, ResultMeta

log = logging.getLogger("watch_pandas")

# A cached result of "any age": the server's own default, always sent explicitly.
ANY_AGE = -1
DTYPE_BACKENDS = ("numpy_nullable", "pyarrow")


# -- options -------------------------------------------------------------------------------
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


def check_max_age(
    max_age: object, *, name: str = "max_age", any_age: str = "pass None"
) -> int | None:
    """``max_age`` as an int >= 0 (``numpy.int64`` too), ``None`` kept; anything else refused.

    Negative values are refused too: the server's own "any age" (-1) is asked for with
    ``None``. ``name`` and ``any_age`` word the error where the value came from elsewhere (a
    command-line option, a configured default)."""
    if max_age is None:
        return None
    if isinstance(max_age, numbers.Integral) and not isinstance(max_age, bool):
        seconds = int(max_age)
        if seconds >= 0:
            return seconds
    raise max_age_error(max_age, name=name, any_age=any_age)


def max_age_error(value: object, *, name: str, any_age: str) -> ConfigError:
    """The one refusal of a bad ``max_age``, wherever it was given."""
    return ConfigError(
        f"{name} must be a whole number of seconds >= 0 (such as 600; 0 always runs the "
        f"query), not {value!r}; for a cached result of any age, {any_age}."
    )


def parse_max_age(text: str) -> int:
    """A ``--max-age`` option's text (command line, magics) as seconds; ConfigError if bad.

    Leaving the option out asks for any age, so the error says that instead of ``None``."""
    try:
        seconds = int(text)
    except ValueError:
        seconds = -1
    if seconds < 0:
        raise max_age_error(text, name="the value", any_age="leave --max-age out")
    return seconds


def check_timeout(timeout: object) -> float | None:
    """``timeout`` as a float (numpy numbers too), ``None`` kept; anything else refused."""
    if timeout is None:
        return None
    if isinstance(timeout, numbers.Real) and not isinstance(timeout, bool):
        seconds = float(timeout)
        if math.isfinite(seconds) and seconds > 0:
            return seconds
    raise ConfigError(f"timeout must be None or a number of seconds > 0, not {timeout!r}.")


@contextmanager
def client_for(
    client: WatchClient | None, url: str | None, api_key: str | None, profile: str | None
) -> Iterator[WatchClient]:
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


def server_url(
    client: WatchClient | None, url: str | None, api_key: str | None, profile: str | None
) -> str:
    """The server's normalised URL without any network access (offline reads)."""
    if client is not None:
        return client.url
    if url is not None:
        return normalize_url(url, source="the url= argument")
    return resolve_config(None, api_key, profile).url


# -- plan ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReadPlan:
    """What one read asks for, worked out once before the cache or the server is consulted.

    ``query`` is ``None`` for ad-hoc SQL. ``given`` and ``saved`` are kept for the dropdown
    check, which costs a request per dropdown and so runs only when the query really runs."""

    key: _cache.CacheKey
    wire: dict[str, Any]
    query: Query | None = None
    is_default: bool = False
    definitions: Sequence[_params.ParameterDefinition] = ()
    given: Mapping[str, Any] | None = None
    saved: Collection[str] = field(default_factory=frozenset)

    @property
    def query_id(self) -> int | None:
        return self.query.id if self.query is not None else None


def plan_query(
    server: str,
    query: Query,
    params: Mapping[str, Any] | None,
    dtype_backend: str,
    *,
    saved: Collection[str] = (),
) -> ReadPlan:
    """The plan of a saved query's read: its parameters resolved (dropdowns not yet checked).

    ``saved``: names in ``params`` whose values are the server's saved settings (see
    :func:`watch_pandas._params.resolve_parameters`)."""
    definitions = _params.parse_definitions(query.parameters)
    now = datetime.now()
    wire = _params.resolve_parameters(definitions, params, now=now, query_id=query.id, saved=saved)
    return ReadPlan(
        key=_cache.CacheKey.for_read(server, query.id, wire, dtype_backend),
        wire=wire,
        query=query,
        is_default=_cache.is_default_run(definitions, params, wire, now),
        definitions=definitions,
        given=params,
        saved=frozenset(saved),
    )


def plan_sql(
    server: str, source_id: int, sql: str, wire: dict[str, Any], dtype_backend: str
) -> ReadPlan:
    """The plan of an ad-hoc read (``wire`` from :func:`watch_pandas._params.adhoc_parameters`)."""
    return ReadPlan(
        key=_cache.CacheKey.for_sql(server, source_id, sql, wire, dtype_backend), wire=wire
    )


def check_dropdowns(watch: WatchClient, plan: ReadPlan) -> None:
    """Check query-based dropdown values against their options, just before the query runs
    (a cached entry exists only for values the server already accepted, and a hit must cost
    no extra request)."""
    query_id = plan.query_id
    if query_id is None or not any(d.type == "query" for d in plan.definitions):
        return

    def options(definition: _params.ParameterDefinition) -> list[str]:
        rows = watch.get_dropdown_options(query_id, parameter_query_id=definition.query_id)
        return [str(row.get("value")) for row in rows]

    _params.check_dropdown_values(
        plan.definitions, plan.given, options, query_id=query_id, saved=plan.saved
    )


# -- the pipelines -------------------------------------------------------------------------
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
    output: Output = "pandas",
) -> ReadOutput:
    """Serve ``query`` from the local cache when allowed, else execute/fetch it (and cache it).

    Every request it sends (the dropdown check, the execution, naming the data source) is
    bounded by ``timeout``: a dashboard's worker threads have no deadline of their own.
    ``output`` is what it returns (:mod:`watch_pandas._output`), the same for every source."""
    dtype_backend = _output.decode_backend(output, dtype_backend)
    with deadline(timeout):
        plan = plan_query(watch.url, query, params, dtype_backend, saved=saved)
        cached = _cache.serve(results, plan.key, max_age, query=query, is_default=plan.is_default)
        if cached is not None:
            return _served(listeners, query.id, cached, output)
        check_dropdowns(watch, plan)
        query_key = watch.is_query_key_for(query)
        wire = plan.wire

        def start(age: int) -> Callable[[], ExecutionResponse]:
            return lambda: watch.post_query_results(query.id, wire, max_age=age, stream=True)

        execution = Execution(
            watch,
            query_id=query.id,
            query_url=watch.query_url(query.id),
            timeout=timeout,
            listeners=listeners,
        )
        with execution.final_event():
            outcome = execution.run(start(ANY_AGE if max_age is None else max_age))
            frame, meta = _read_result(
                watch,
                execution,
                outcome,
                dtype_backend,
                query_id=query.id,
                repost=start(ANY_AGE) if query_key else None,
            )
        source_id = meta.data_source_id
        if source_id is None:
            source_id = query.data_source_id
        name = _data_source_name(watch, results, source_id, can_list=not query_key)
        return _finish(
            watch, plan, results, execution, frame, meta, outcome, data_source=name, output=output
        )


def read_sql(
    watch: WatchClient,
    sql: str,
    data_source: int | str,
    wire: dict[str, Any],
    *,
    max_age: int | None,
    timeout: float | None,
    dtype_backend: DtypeBackend,
    listeners: list[ProgressListener],
    results: _cache.ResultCache | None,
    output: Output = "pandas",
) -> ReadOutput:
    """Serve ad-hoc SQL from the local cache when ``max_age`` allows, else run it (and cache
    it). Runs under the caller's deadline."""
    dtype_backend = _output.decode_backend(output, dtype_backend)
    source = watch.resolve_data_source(data_source)
    _cache.remember_sources(results, watch.url, watch.listed_data_sources())
    plan = plan_sql(watch.url, source.id, sql, wire, dtype_backend)
    cached = _cache.serve(results, plan.key, max_age)
    if cached is not None:
        return _served(listeners, None, cached, output)
    execution = Execution(watch, timeout=timeout, listeners=listeners)
    wanted_age = ANY_AGE if max_age is None else max_age
    with execution.final_event():
        outcome = execution.run(
            lambda: watch.execute_sql(sql, source.id, wire or None, max_age=wanted_age, stream=True)
        )
        frame, meta = _read_result(
            watch, execution, outcome, dtype_backend, query_id=None, repost=None
        )
    return _finish(
        watch,
        plan,
        results,
        execution,
        frame,
        meta,
        outcome,
        data_source=source.name,
        output=output,
    )


def read_stored_result(
    watch: WatchClient,
    result_id: int,
    *,
    query: Query | None,
    timeout: float | None,
    dtype_backend: DtypeBackend,
    listeners: list[ProgressListener],
    results: _cache.ResultCache | None,
    output: Output = "pandas",
) -> ReadOutput:
    """A stored result by id (a shared link's), decoded from its typed JSON; nothing runs.

    With ``query`` it is read on that query's route (where a query key may read it) and the
    frame's provenance names the query; its parameters are not known (``{}``)."""
    dtype_backend = _output.decode_backend(output, dtype_backend)
    with deadline(timeout):
        query_id = query.id if query is not None else None
        execution = Execution(
            watch,
            query_id=query_id,
            query_url=watch.query_url(query_id) if query_id is not None else None,
            timeout=timeout,
            listeners=listeners,
        )
        with execution.final_event():
            execution.report("downloading", f"result {result_id}")
            frame, meta = watch.with_result(
                result_id, lambda body: _decode(body, dtype_backend), query_id=query_id
            )
        source_id = meta.data_source_id
        if source_id is None and query is not None:
            source_id = query.data_source_id
        query_key = query is not None and watch.is_query_key_for(query)
        name = _data_source_name(watch, results, source_id, can_list=not query_key)
        _stamp(
            frame,
            watch,
            meta,
            Outcome(result_id=result_id),
            query=query,
            parameters={},
            data_source=name,
        )
        execution.report("done", source=frame.attrs["watch"]["source"])
        return _output.convert(frame, output)


def read_query_offline(
    results: _cache.ResultCache,
    server: str,
    query_id: int,
    params: Mapping[str, Any] | None,
    *,
    max_age: int | None,
    dtype_backend: DtypeBackend,
    progress: Progress,
    output: Output = "pandas",
) -> ReadOutput:
    """Serve a saved query from the cache only; a clear NotFoundError when there is no copy."""
    dtype_backend = _output.decode_backend(output, dtype_backend)
    query = offline_saved_query(results, server, query_id)
    plan = plan_query(server, query, params, dtype_backend)
    found = _cache.serve_offline(results, plan.key, max_age)
    if found.frame is None:
        raise NotFoundError(
            f"Offline: cannot serve query {query_id} with parameters {plan.key.parameters} "
            f"from {server}: "
            + _cache.offline_miss(found, results.directory, "these parameters and dtype_backend"),
            query_id=query_id,
        )
    return _served(progress_listeners(progress), query_id, found.frame, output)


def offline_saved_query(results: _cache.ResultCache, server: str, query_id: int) -> Query:
    """The query's definition as last read online; NotFoundError if it never was."""
    query = _cache.offline_query(results, server, query_id)
    if query is None:
        raise NotFoundError(
            f"Offline: query {query_id} from {server} has never been read online, so the local "
            f"cache at {results.directory} has no copy of it. Read it online once "
            f"({_wording.current().go_online}).",
            query_id=query_id,
        )
    return query


def read_sql_offline(
    results: _cache.ResultCache,
    server: str,
    sql: str,
    data_source: int | str,
    wire: dict[str, Any],
    *,
    max_age: int | None,
    dtype_backend: DtypeBackend,
    progress: Progress,
    output: Output = "pandas",
) -> ReadOutput:
    """Serve ad-hoc SQL from the cache only (the data source resolved without the network)."""
    dtype_backend = _output.decode_backend(output, dtype_backend)
    source_id = _cache.offline_source_id(results, server, data_source)
    key = plan_sql(server, source_id, sql, wire, dtype_backend).key
    found = _cache.serve_offline(results, key, max_age)
    if found.frame is None:
        raise NotFoundError(
            f"Offline: cannot serve this SQL with parameters {_params.cache_key(wire)} on data "
            f"source {source_id} of {server}: "
            + _cache.offline_miss(
                found, results.directory, "this SQL text, these parameters and dtype_backend"
            )
        )
    return _served(progress_listeners(progress), None, found.frame, output)


# -- steps ---------------------------------------------------------------------------------
def _served(
    listeners: list[ProgressListener],
    query_id: int | None,
    frame: pd.DataFrame,
    output: Output = "pandas",
) -> ReadOutput:
    """A frame from the local cache, as ``output``: listeners see it done at once."""
    result = _output.convert(frame, output)
    emit(
        listeners,
        ProgressEvent(
            state="done", elapsed=0.0, query_id=query_id, source=frame.attrs["watch"]["source"]
        ),
    )
    return result


def _finish(
    watch: WatchClient,
    plan: ReadPlan,
    results: _cache.ResultCache | None,
    execution: Execution,
    frame: pd.DataFrame,
    meta: ResultMeta,
    outcome: Outcome,
    *,
    data_source: str | None,
    output: Output = "pandas",
) -> ReadOutput:
    """Stamp the fresh frame, keep it in the local cache and tell the listeners it is done
    (the frame handed back as ``output``)."""
    _stamp(
        frame, watch, meta, outcome, query=plan.query, parameters=plan.wire, data_source=data_source
    )
    _cache.keep(results, plan.key, frame, query=plan.query, is_default=plan.is_default)
    result = _output.convert(frame, output)
    execution.report("done", source=frame.attrs["watch"]["source"])
    return result


def _read_result(
    watch: WatchClient,
    execution: Execution,
    outcome: Outcome,
    dtype_backend: DtypeBackend,
    *,
    query_id: int | None,
    repost: Callable[[], ExecutionResponse] | None,
) -> tuple[pd.DataFrame, ResultMeta]:
    """The result decoded while it streams in: inline, by id, or (query keys: ``repost``)
    re-POSTed.

    A download by id that breaks off is decoded again from a fresh download
    (:meth:`WatchClient.with_result`): the query does not run again.
    """
    meter = DownloadMeter(functools.partial(execution.report, "downloading"))

    def decode(body: ResultBody | bytes) -> tuple[pd.DataFrame, ResultMeta]:
        if not isinstance(body, bytes):
            body = meter.metered(body)  # type: ignore[assignment]  # chunks, as read_result takes
        return _decode(body, dtype_backend, on_rows=meter.rows)

    if outcome.body is not None:
        execution.report("downloading", "inline result")
        frame, meta = decode(outcome.body)  # its first bytes are here: nothing to prepare
    else:
        result_id = outcome.result_id
        assert result_id is not None, "an execution ends with a result body or a result id"
        execution.report("downloading", f"result {result_id}")
        with meter.preparing():
            if repost is None:
                frame, meta = watch.with_result(result_id, decode)
            else:
                frame, meta = decode(_reposted_body(execution, query_id, repost))
    meter.finish(rows=len(frame))
    return frame, meta


def _reposted_body(
    execution: Execution, query_id: int | None, repost: Callable[[], ExecutionResponse]
) -> ResultBody | bytes:
    """The result of a query-key run, fetched by repeating its POST.

    A query key cannot read results by id when the hash differs from the saved query's
    (non-default parameters): repeat the POST, which now hits the fresh cached result.
    """
    for _ in range(3):
        response = repost()
        if response.job is None:
            assert response.body is not None, "a POST answers with a job or a result"
            return response.body
        again = execution.wait(response.job)
        if again.body is not None:
            return again.body
    raise QueryFailedError(
        f"Query {query_id} finished but its result could not be fetched with this query key; "
        "use a user API key.",
        query_id=query_id,
    )


def _decode(
    body: ResultBody | bytes,
    dtype_backend: DtypeBackend,
    on_rows: Callable[[int], None] | None = None,
) -> tuple[pd.DataFrame, ResultMeta]:
    from ._decode import read_result

    return read_result(body, dtype_backend=dtype_backend, on_rows=on_rows)


def _data_source_name(
    watch: WatchClient,
    results: _cache.ResultCache | None,
    source_id: int | None,
    *,
    can_list: bool,
) -> str | None:
    """A data source's name for provenance: known to this client or to the local cache, else
    listed once and remembered in the cache (a user key; a query key cannot list); ``None`` if
    unknown. Without a local cache nothing would remember a listing, so none is made: a read
    with ``cache=False`` pays no request for a name."""
    if source_id is None:
        return None
    known = watch.listed_data_sources()
    if known is None:
        known = _cache.known_sources(results, watch.url)
    if known is not None and source_id in known:
        return known[source_id]
    listed = watch.listed_data_sources()  # dashboard workers share a client: another may
    if listed is not None:  # have listed meanwhile, and then its listing answers
        return listed.get(source_id)
    if not can_list or results is None:
        return None
    try:
        watch.list_data_sources()
    except WatchError as exc:  # a name is worth a request, not the frame
        log.debug("data source %s left unnamed: %s", source_id, exc)
        return None
    _cache.remember_sources(results, watch.url, watch.listed_data_sources())
    return (watch.listed_data_sources() or {}).get(source_id)


def _stamp(
    frame: pd.DataFrame,
    watch: WatchClient,
    meta: ResultMeta,
    outcome: Outcome,
    *,
    query: Query | None,
    parameters: Mapping[str, Any],
    data_source: str | None = None,
) -> None:
    """Record provenance in ``frame.attrs["watch"]`` (never the key); ``df.watch`` reads it."""
    from ._plot import register_accessor

    register_accessor()
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
