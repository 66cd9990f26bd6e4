"""The public verbs: ``read_watch_query`` and ``run_sql``.

They compose the layers below (client, params, execution, frames) and hold no protocol detail
of their own beyond choosing routes for the key kind (watch-api.md §10.4).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from contextlib import contextmanager
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Literal

from . import params as _params
from .errors import ParameterError, QueryFailedError
from .execution import Execution, Outcome
from .progress import ProgressListener, TextProgress

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from .client import WatchClient
    from .models import Query, ResultMeta

__all__ = ["read_watch_query", "run_sql"]

DtypeBackend = Literal["numpy_nullable", "pyarrow"]
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
) -> pd.DataFrame:
    """Read a saved query's result into a DataFrame with dtypes from the result's column types.

    ``params`` are validated against the query's parameter definitions before anything runs;
    parameters left out take their saved defaults (dynamic dates resolved here). ``max_age``
    (seconds) accepts a cached result at most that old; ``None`` accepts any cached result and
    ``0`` always runs the query. ``timeout`` bounds the whole read; on the deadline or Ctrl-C
    the server job is cancelled. ``df.attrs["watch"]`` records where the frame came from.
    """
    with _client_for(client, url, api_key, profile) as watch:
        query = watch.get_query(query_id)
        definitions = _params.parse_definitions(query.parameters)
        wire = _params.resolve_parameters(
            definitions,
            params,
            dropdown_options=_dropdown_lookup(watch, query_id),
            query_id=query_id,
        )
        query_key = watch.is_query_key_for(query)
        execution = Execution(
            watch,
            query_id=query_id,
            query_url=watch.query_url(query_id),
            timeout=timeout,
            listeners=_listeners(progress),
        )
        wanted_age = ANY_AGE if max_age is None else int(max_age)

        def start():
            return watch.post_query_results(query_id, wire, max_age=wanted_age)

        outcome = execution.run(start)
        body = _result_body(
            watch,
            execution,
            outcome,
            query_id=query_id,
            query_key=query_key,
            repost=lambda: watch.post_query_results(query_id, wire, max_age=ANY_AGE),
        )
        frame, meta = _decode(body, dtype_backend)
        _stamp(frame, watch, meta, outcome, query=query, parameters=wire)
        execution.report("done", source=frame.attrs["watch"]["source"])
        return frame


def run_sql(
    sql: str,
    data_source: int | str,
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
) -> pd.DataFrame:
    """Run ad-hoc SQL on a data source (id or name) and return the result as a DataFrame.

    ``{{ name }}`` placeholders are filled by the server from ``params`` (never by Python
    string formatting); every placeholder must be given. ``max_age`` as in
    :func:`read_watch_query`. Needs a user API key.
    """
    wire = adhoc_parameters(sql, params)
    with _client_for(client, url, api_key, profile) as watch:
        source = watch.resolve_data_source(data_source)
        execution = Execution(watch, timeout=timeout, listeners=_listeners(progress))
        wanted_age = ANY_AGE if max_age is None else int(max_age)
        outcome = execution.run(
            lambda: watch.execute_sql(sql, source.id, wire or None, max_age=wanted_age)
        )
        body = _result_body(watch, execution, outcome, query_id=None, query_key=False, repost=None)
        frame, meta = _decode(body, dtype_backend)
        _stamp(frame, watch, meta, outcome, query=None, parameters=wire, data_source=source.name)
        execution.report("done", source=frame.attrs["watch"]["source"])
        return frame


# -- ad-hoc parameters ---------------------------------------------------------------------
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][\w-]*)(?:\.(?:start|end))?\s*\}\}")


def placeholders(sql: str) -> list[str]:
    """Names of the ``{{ name }}`` / ``{{ name.start }}`` placeholders in ``sql``, in order."""
    return list(dict.fromkeys(_PLACEHOLDER.findall(sql)))


def adhoc_parameters(sql: str, given: Mapping[str, Any] | None) -> dict[str, Any]:
    """Wire values for ad-hoc SQL: every placeholder must be given, no extra names allowed."""
    given = dict(given or {})
    names = placeholders(sql)
    missing = [n for n in names if n not in given]
    if missing:
        raise ParameterError(
            f"Missing value for parameter(s) {', '.join(map(repr, missing))} used in the SQL; "
            "pass them as params={...}.",
            name=missing[0],
            allowed="a value for every {{ name }} in the SQL",
        )
    unknown = [n for n in given if n not in names]
    if unknown:
        raise ParameterError(
            f"Parameter(s) {', '.join(map(repr, unknown))} do not appear in the SQL "
            f"(placeholders: {', '.join(names) or 'none'}).",
            name=unknown[0],
            value=given[unknown[0]],
            allowed=", ".join(names) or "no parameters",
        )
    return {name: _adhoc_value(name, value) for name, value in given.items()}


def _adhoc_value(name: str, value: Any) -> Any:
    """Python value → the wire shape the server substitutes verbatim (no definitions to check).

    Dates (and naive datetimes at midnight) become ``YYYY-MM-DD``, other datetimes
    ``YYYY-MM-DD HH:MM:SS`` (``.ffffff`` kept when non-zero), ``(start, end)`` tuples and
    ``{"start", "end"}`` dicts become ranges, other sequences become lists of strings (the
    server joins them with ``,``).
    """
    if isinstance(value, bool):
        raise ParameterError(
            f"Parameter {name!r}: {value!r} is ambiguous in SQL; pass 1/0 or 'true'/'false'.",
            name=name,
            value=value,
            allowed="a string, number, date, datetime, (start, end) range or list",
        )
    if isinstance(value, (str, int, float)):
        return value
    if isinstance(value, datetime):
        if value.time() == datetime.min.time() and value.tzinfo is None:
            return value.date().isoformat()  # pd.Timestamp("2024-02-01") means a day
        text = value.strftime("%Y-%m-%d %H:%M:%S")
        return text + (f".{value.microsecond:06d}" if value.microsecond else "")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping) and set(value) == {"start", "end"}:
        return {k: _adhoc_value(name, value[k]) for k in ("start", "end")}
    if isinstance(value, tuple) and len(value) == 2:
        return {"start": _adhoc_value(name, value[0]), "end": _adhoc_value(name, value[1])}
    if isinstance(value, (list, set, frozenset)):
        return [str(_adhoc_value(name, v)) for v in value]
    if hasattr(value, "item"):  # numpy scalars
        return _adhoc_value(name, value.item())
    raise ParameterError(
        f"Parameter {name!r}: cannot send a {type(value).__name__} ({value!r:.80}).",
        name=name,
        value=value,
        allowed="a string, number, date, datetime, (start, end) range or list",
    )


# -- steps ---------------------------------------------------------------------------------
@contextmanager
def _client_for(client, url, api_key, profile):
    if client is not None:
        yield client
        return
    from .client import WatchClient

    owned = WatchClient(url, api_key, profile=profile)
    try:
        yield owned
    finally:
        owned.close()


def _listeners(progress: Progress) -> list[ProgressListener]:
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


def _result_body(
    watch,
    execution: Execution,
    outcome: Outcome,
    *,
    query_id: int | None,
    query_key: bool,
    repost: Callable[[], Any] | None,
) -> bytes:
    """The result's JSON bytes: inline, downloaded by id, or (query keys) re-POSTed."""
    if outcome.body is not None:
        return outcome.body
    execution.report("downloading", f"result {outcome.result_id}")
    if not query_key:
        return watch.get_result(outcome.result_id, "json")
    # A query key cannot read results by id when the hash differs from the saved query's
    # (non-default parameters): repeat the POST, which now hits the fresh cached result.
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


def _decode(body: bytes, dtype_backend: DtypeBackend):
    from .frames import decode_result

    return decode_result(body, dtype_backend=dtype_backend)


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
