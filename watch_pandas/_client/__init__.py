"""WatchClient: one method per Watch/Redash endpoint, over one ``requests.Session``.

The key travels only in the ``Authorization: Key …`` header of each request (never in a URL we
build). Idempotent requests are retried with exponential backoff on 429/502/503/504 and
connection errors (a body that breaks off mid-way included), honouring ``Retry-After``; POSTs
(which may start executions) are retried only when the connection failed before anything was
sent, or after a 429. Every HTTP or transport failure is raised as an
:mod:`watch_pandas.errors` type whose message names the method and path, never the key.

:class:`WatchClient` is composed from one class per resource, each in its own module: ``_base``
(session, key auth, ``_request``), ``_queries``, ``_execution`` (runs, jobs and results),
``_dashboards`` (with the v8/v9 route probing), ``_meta`` (data sources, config, version),
``_schema`` (a data source's tables) and ``_save`` (SQL saved as a query). What a client
learns from the server after construction (the key's kind, the dashboard generation, the data
sources listed, the queries it read) is lock-guarded or replaced whole,
so one client may be shared by threads. The transport lives in :mod:`watch_pandas._http`, the per-
thread :func:`deadline` in :mod:`watch_pandas._deadline`, result bodies (:class:`ResultBody`,
:class:`ExecutionResponse`) in :mod:`watch_pandas._body`; this package re-exports those names.
"""

from __future__ import annotations

from .._body import ExecutionResponse, ResultBody
from .._deadline import deadline, no_deadline, time_left
from ._args import RESULT_FORMATS
from ._dashboards import DashboardsAPI
from ._execution import ExecutionAPI
from ._queries import QueriesAPI
from ._save import SaveAPI
from ._schema import SchemaAPI

__all__ = [
    "WatchClient",
    "ExecutionResponse",
    "ResultBody",
    "RESULT_FORMATS",
    "deadline",
    "no_deadline",
    "time_left",
]


class WatchClient(SaveAPI, SchemaAPI, QueriesAPI, ExecutionAPI, DashboardsAPI):
    """A connection to one Watch (Redash) server.

    ``url``/``api_key``/``profile`` are resolved by :func:`watch_pandas._config.resolve_config`.
    ``timeout`` is seconds, or ``(connect, read)``. ``retries`` bounds the automatic retries of
    idempotent requests (``0`` disables them), ``backoff_factor`` their exponential backoff.
    ``key_kind`` says whether the key is a user API key or one query's API key; ``"auto"``
    detects it from the query JSON (which exposes the query's key) or from a user-only route
    that succeeded. Use as a context manager, or call :meth:`close`.
    """
