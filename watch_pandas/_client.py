"""WatchClient: one method per Watch/Redash endpoint, over one ``requests.Session``.

The key travels only in the ``Authorization: Key …`` header of each request (never in a URL we
build). Idempotent requests are retried with exponential backoff on 429/502/503/504 and
connection errors (a body that breaks off mid-way included), honouring ``Retry-After``; POSTs
(which may start executions) are retried only when the connection failed before anything was
sent, or after a 429. Every HTTP or transport failure is raised as an
:mod:`watch_pandas.errors` type whose message names the method and path, never the key.

The transport (retry policy, the per-thread :func:`deadline`, failures → error types) lives in
:mod:`watch_pandas._http`, result bodies (:class:`ResultBody`, :class:`ExecutionResponse`,
telling a job from a result) in :mod:`watch_pandas._body`; this module keeps the endpoints and
re-exports those public names.
"""

from __future__ import annotations

import hmac
import logging
import math
import numbers
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Literal, TypeVar
from urllib.parse import quote, urlsplit

import requests
import requests.auth
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from . import __version__
from ._body import (
    ExecutionResponse,
    ResultBody,
    execution_response,
    result_body,
    streamed_execution_response,
)
from ._config import resolve_config
from ._constants import MAX_PAGE_SIZE
from ._http import (
    DEADLINE_SLACK,
    DeadlineReached,
    again_if_body_breaks,
    broken_body_error,
    check_not_login_page,
    deadline,
    deadline_error,
    decode_json,
    expect_dict,
    http_error,
    no_deadline,
    request_line,
    retry_deadline_error,
    retry_policy,
    time_left,
    timeout_within_deadline,
    transport_error,
    wire_model,
)
from .errors import (
    AuthError,
    ConfigError,
    ForbiddenError,
    NotFoundError,
    ServerError,
    TransportError,
    WatchError,
)
from .models import Dashboard, DataSource, Job, Page, Query

__all__ = [
    "WatchClient",
    "ExecutionResponse",
    "ResultBody",
    "RESULT_FORMATS",
    "deadline",
    "no_deadline",
    "time_left",
]

log = logging.getLogger("watch_pandas.client")

KeyKind = Literal["auto", "user", "query"]
_T = TypeVar("_T")
RESULT_FORMATS = ("json", "csv", "tsv", "xlsx")


class _KeyAuth(requests.auth.AuthBase):
    """Puts ``Authorization: Key <key>`` on every request; its repr hides the key."""

    def __init__(self, key: str) -> None:
        self._header = f"Key {key}"

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = self._header
        return request

    def __repr__(self) -> str:
        return "_KeyAuth(<hidden>)"


class WatchClient:
    """A connection to one Watch (Redash) server.

    ``url``/``api_key``/``profile`` are resolved by :func:`watch_pandas._config.resolve_config`.
    ``timeout`` is seconds, or ``(connect, read)``. ``retries`` bounds the automatic retries of
    idempotent requests (``0`` disables them), ``backoff_factor`` their exponential backoff.
    ``key_kind`` says whether the key is a user API key or one query's API key; ``"auto"``
    detects it from the query JSON (which exposes the query's key) or from a user-only route
    that succeeded. Use as a context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        url: str | None = None,
        api_key: str | None = None,
        *,
        profile: str | None = None,
        timeout: float | tuple[float, float] = (10, 300),
        retries: int = 3,
        backoff_factor: float = 0.5,
        session: requests.Session | None = None,
        key_kind: KeyKind = "auto",
    ) -> None:
        if key_kind not in ("auto", "user", "query"):
            raise ConfigError(f"key_kind must be 'auto', 'user' or 'query', not {key_kind!r}.")
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ConfigError(f"retries must be an integer >= 0, not {retries!r}.")
        if not isinstance(backoff_factor, (int, float)) or backoff_factor < 0:
            raise ConfigError(f"backoff_factor must be a number >= 0, not {backoff_factor!r}.")
        config = resolve_config(url, api_key, profile)
        self.url: str = config.url
        self.profile = config.profile
        self.timeout = _check_timeout(timeout)
        self.retries = retries
        self._backoff_factor = float(backoff_factor)
        self._key = config.api_key
        self._key_kind: KeyKind = key_kind
        self._detected_kind: KeyKind = "auto"
        self._query_key_query_id: int | None = None
        # dashboard routes: "legacy" = v10+ (ids; ?legacy for slugs), "slug" = v8/v9 (slugs)
        self._dashboard_slug_style: Literal["legacy", "slug"] | None = None
        self._dashboard_slugs: dict[int, str] = {}  # id → slug seen (v8/v9 address by slug)
        self._data_source_names: dict[int, str] | None = None  # id → name, once listed
        self._owns_session = session is None
        self.session = session if session is not None else requests.Session()
        # The key travels per request (auth=), never on the session: a session the caller
        # passed in stays theirs, and its headers never show the key. An explicit auth= also
        # stops requests from replacing our header with ~/.netrc credentials for the host.
        self._auth = _KeyAuth(self._key)
        self._headers = {"User-Agent": f"watch-pandas/{__version__}", "Accept": "application/json"}
        if self._owns_session:
            adapter = HTTPAdapter(max_retries=retry_policy(retries, backoff_factor))
            self.session.mount("https://", adapter)
            self.session.mount("http://", adapter)

    # -- housekeeping ----------------------------------------------------------------------
    def __repr__(self) -> str:
        return f"WatchClient(url={self.url!r}, key_kind={self.key_kind!r})"

    def close(self) -> None:
        """Close the HTTP session (only if this client created it)."""
        if self._owns_session:
            self.session.close()

    def __enter__(self) -> WatchClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def key_kind(self) -> KeyKind:
        """``"user"`` or ``"query"`` once known (configured or detected), else ``"auto"``."""
        return self._key_kind if self._key_kind != "auto" else self._detected_kind

    def query_url(self, query_id: int | str) -> str:
        """The human link to a query in the web UI (no key)."""
        return f"{self.url}/queries/{_as_id(query_id, 'query_id')}"

    def is_query_key_for(self, query: Query) -> bool:
        """True when this client's key is ``query``'s own API key (a query key).

        With ``key_kind="auto"`` this also settles the kind: a key that could read the query
        but is not its key must be a user key.
        """
        if not query.api_key:
            return self._key_kind == "query"
        matches = hmac.compare_digest(query.api_key.encode(), self._key.encode())
        if matches:
            self._query_key_query_id = query.id
        if self._key_kind == "auto" and self._detected_kind == "auto":
            self._detected_kind = "query" if matches else "user"
        return matches

    # -- queries ---------------------------------------------------------------------------
    def list_queries(
        self,
        q: str | None = None,
        tags: Sequence[str] | str | None = None,
        *,
        order: str | None = None,
        page_size: int = MAX_PAGE_SIZE,
        limit: int | None = None,
    ) -> Iterator[Query]:
        """All queries (drafts included), fetched page by page; stops at the last page."""
        for item in self._paginate("queries", q, tags, order, page_size, limit, "list queries"):
            yield wire_model(Query.from_json, item, "a query")

    def get_queries_page(
        self,
        page: int = 1,
        page_size: int = 25,
        q: str | None = None,
        tags: Sequence[str] | str | None = None,
        order: str | None = None,
    ) -> Page:
        """One page of ``GET /api/queries`` (``results`` are raw query objects)."""
        return self._page("queries", page, page_size, q, tags, order, "list queries")

    def get_query(self, query_id: int | str) -> Query:
        """One saved query, with its parameter definitions."""
        qid = _as_id(query_id, "query_id")
        data = self._json("GET", f"queries/{qid}", what=f"query {qid}", query_id=qid)
        query = wire_model(Query.from_json, data, "a query")
        self.is_query_key_for(query)
        return query

    def create_query(
        self,
        *,
        data_source_id: int,
        query: str,
        name: str,
        description: str | None = None,
        parameters: Sequence[Mapping[str, Any]] | None = None,
        tags: Sequence[str] | None = None,
        schedule: Mapping[str, Any] | None = None,
        publish: bool = False,
    ) -> Query:
        """Create a saved query (a draft unless ``publish=True``)."""
        self._require_user_key("create queries")
        if not isinstance(query, str) or not query.strip():
            raise ConfigError("query= must be the SQL text of the new query (non-empty).")
        body: dict[str, Any] = {
            "data_source_id": _as_id(data_source_id, "data_source_id"),
            "query": query,
            "name": name,
            "description": description,
            "options": {"parameters": [dict(p) for p in parameters or ()]},
            "schedule": dict(schedule) if schedule is not None else None,
            "tags": list(tags or ()),
        }
        created = wire_model(Query.from_json, self._json("POST", "queries", body=body), "a query")
        if publish:
            return self.edit_query(created.id, version=created.version, is_draft=False)
        return created

    def edit_query(
        self, query_id: int | str, *, version: int | None = None, **fields: Any
    ) -> Query:
        """Change fields of a saved query (``query=`` is the SQL, ``is_draft=False`` publishes).

        With ``version=`` the server refuses (``ConflictError``) when someone saved in between.
        """
        qid = _as_id(query_id, "query_id")
        body = dict(fields)
        if version is not None:
            body["version"] = version
        data = self._json("POST", f"queries/{qid}", body=body, what=f"query {qid}", query_id=qid)
        return wire_model(Query.from_json, data, "a query")

    def archive_query(self, query_id: int | str) -> None:
        """Archive a saved query (``DELETE /api/queries/<id>``)."""
        qid = _as_id(query_id, "query_id")
        self._json("DELETE", f"queries/{qid}", what=f"query {qid}", query_id=qid)

    def get_dropdown_options(
        self, query_id: int | str, *, parameter_query_id: int | str | None = None
    ) -> list[dict[str, Any]]:
        """Options of a query-based dropdown parameter: ``[{"name": …, "value": …}, …]``.

        Without ``parameter_query_id`` this is ``/dropdown`` (the query's own values);
        with it, ``/dropdowns/<parameter_query_id>`` (a parameter of ``query_id``).
        """
        qid = _as_id(query_id, "query_id")
        path = f"queries/{qid}/dropdown"
        if parameter_query_id is not None:
            path = f"queries/{qid}/dropdowns/{_as_id(parameter_query_id, 'parameter_query_id')}"
        data = self._json("GET", path, what=f"dropdown options of query {qid}", query_id=qid)
        if not isinstance(data, list):
            raise ServerError(f"GET /api/{path} did not answer a list of options.", query_id=qid)
        return data

    # -- execution -------------------------------------------------------------------------
    def post_query_results(
        self,
        query_id: int | str,
        parameters: Mapping[str, Any] | None = None,
        *,
        max_age: int | None = -1,
        apply_auto_limit: bool | None = None,
        stream: bool = False,
    ) -> ExecutionResponse:
        """Run (or fetch from cache) a saved query: ``POST /api/queries/<id>/results``.

        ``max_age`` is always sent: seconds a cached result may be old, ``0`` = always run,
        ``-1`` (or ``None``) = any cached result. Not retried once the request went out.
        ``stream=True`` makes an inline result's ``body`` a :class:`ResultBody` (chunks still
        arriving) instead of bytes; a job is read and parsed as usual.
        """
        qid = _as_id(query_id, "query_id")
        body: dict[str, Any] = {"max_age": _max_age(max_age)}
        if parameters is not None:
            body["parameters"] = dict(parameters)
        if apply_auto_limit is not None:
            body["apply_auto_limit"] = bool(apply_auto_limit)
        response = self._request(
            "POST",
            f"queries/{qid}/results",
            body=body,
            what=f"query {qid}",
            query_id=qid,
            sent_parameters=body.get("parameters"),
            stream=stream,
        )
        if stream:
            path = f"queries/{qid}/results"
            return streamed_execution_response(
                response,
                lambda exc: self._transport_error(exc, "POST", path, {"query_id": qid}),
            )
        return execution_response(response)

    def execute_sql(
        self,
        sql: str,
        data_source_id: int | str,
        parameters: Mapping[str, Any] | None = None,
        *,
        max_age: int = 0,
        query_id: int | str | None = None,
        apply_auto_limit: bool | None = None,
        stream: bool = False,
    ) -> ExecutionResponse:
        """Run ad-hoc SQL on a data source: ``POST /api/query_results`` (user key only).

        ``stream=True`` as in :meth:`post_query_results`.
        """
        self._require_user_key("run ad-hoc SQL")
        if not isinstance(sql, str) or not sql.strip():
            raise ConfigError("sql must be a non-empty SQL string.")
        body: dict[str, Any] = {
            "query": sql,
            "data_source_id": _as_id(data_source_id, "data_source_id"),
            "max_age": _max_age(max_age),
            "parameters": dict(parameters or {}),
        }
        if query_id is not None:
            body["query_id"] = _as_id(query_id, "query_id")
        if apply_auto_limit is not None:
            body["apply_auto_limit"] = bool(apply_auto_limit)
        response = self._request(
            "POST",
            "query_results",
            body=body,
            what=f"data source {body['data_source_id']}",
            user_only=True,
            sent_parameters=body["parameters"],
            stream=stream,
        )
        if stream:
            return streamed_execution_response(
                response,
                lambda exc: self._transport_error(exc, "POST", "query_results", {}),
            )
        return execution_response(response)

    def get_job(self, job_id: str, *, query_id: int | str | None = None) -> Job:
        """The state of an execution job.

        A user key reads ``/api/jobs/<id>``; a query key can only use
        ``/api/queries/<query_id>/jobs/<id>`` (``query_id`` defaults to the key's query).
        """
        jid = _as_job_id(job_id)
        qid = None if query_id is None else _as_id(query_id, "query_id")
        kind = self.key_kind
        if kind == "query" or (kind == "auto" and qid is not None):
            qid = qid if qid is not None else self._query_key_query_id
            if qid is None:
                raise ConfigError(
                    f"A query API key can only read job {jid} through its query's route; "
                    "pass query_id= (the query that started the job), or use a user API key."
                )
            path = f"queries/{qid}/jobs/{quote(jid, safe='')}"
            data = self._json("GET", path, what=f"job {jid}", query_id=qid, job_id=jid)
        else:
            path = f"jobs/{quote(jid, safe='')}"
            data = self._json("GET", path, what=f"job {jid}", job_id=jid, user_only=True)
        job = expect_dict(data, "a job").get("job")
        if not isinstance(job, dict):
            raise ServerError(f"GET /api/{path} did not answer a job object.", job_id=jid)
        return wire_model(Job.from_json, job, "a job")

    def cancel_job(self, job_id: str) -> None:
        """Cancel a job (``DELETE /api/jobs/<id>``); needs a user API key.

        Note that a job is shared by everyone who ran the same SQL at the same time.
        """
        jid = _as_job_id(job_id)
        if self.key_kind == "query":
            raise ForbiddenError(
                f"Cannot cancel job {jid}: cancelling needs a user API key, and this client "
                "uses a query API key (the server offers no cancel route for query keys).",
                job_id=jid,
            )
        self._json(
            "DELETE", f"jobs/{quote(jid, safe='')}", what=f"job {jid}", job_id=jid, user_only=True
        )

    # -- results ---------------------------------------------------------------------------
    def get_cached_result(self, query_id: int | str, fmt: str = "json") -> bytes:
        """The query's latest cached result (``GET /api/queries/<id>/results.<fmt>``) as bytes."""
        qid = _as_id(query_id, "query_id")
        path = f"queries/{qid}/results.{_check_format(fmt)}"
        response = self._request("GET", path, what=f"cached result of query {qid}", query_id=qid)
        return response.content

    def get_result(
        self, result_id: int | str, fmt: str = "json", *, query_id: int | str | None = None
    ) -> bytes:
        """A query result by id as bytes (``json``, ``csv``, ``tsv`` or ``xlsx``).

        Without ``query_id``: ``/api/query_results/<rid>.<fmt>`` (user key); with it:
        ``/api/queries/<qid>/results/<rid>.<fmt>`` (either key; for a query key only results
        whose SQL hash matches the saved query, i.e. default parameter values).
        """
        return self.stream_result(result_id, fmt, query_id=query_id, stream=False).content

    def stream_result(
        self,
        result_id: int | str,
        fmt: str = "json",
        *,
        query_id: int | str | None = None,
        stream: bool = True,
    ) -> requests.Response:
        """Like :meth:`get_result` but returns the open ``Response`` (close it when done)."""
        rid = _as_id(result_id, "result_id")
        fmt = _check_format(fmt)
        qid = None if query_id is None else _as_id(query_id, "query_id")
        if qid is None and self.key_kind == "query":
            qid = self._query_key_query_id
            if qid is None:
                raise ForbiddenError(
                    f"Result {rid} can be read by id only with a user API key; with a query "
                    "API key pass query_id= (or re-POST the same parameters)."
                )
        if qid is None:
            return self._request(
                "GET",
                f"query_results/{rid}.{fmt}",
                what=f"result {rid}",
                user_only=True,
                stream=stream,
            )
        return self._request(
            "GET",
            f"queries/{qid}/results/{rid}.{fmt}",
            what=f"result {rid} of query {qid}",
            query_id=qid,
            stream=stream,
        )

    def open_result(self, result_id: int | str, *, query_id: int | str | None = None) -> ResultBody:
        """A JSON result by id as a :class:`ResultBody` (for :func:`frames.read_result`).

        Routes as :meth:`get_result`; the body is read in chunks as it arrives.
        """
        return self._open_result(result_id, query_id, self._transport_error)

    def _open_result(
        self,
        result_id: int | str,
        query_id: int | str | None,
        error: Callable[[requests.RequestException, str, str, dict[str, Any]], WatchError],
    ) -> ResultBody:
        """:meth:`open_result`, with ``error`` making the error for a body that breaks off."""
        response = self.stream_result(result_id, "json", query_id=query_id)
        path = urlsplit(response.url).path.removeprefix("/api/")
        context = {"query_id": query_id, "job_id": None}
        return result_body(response, lambda exc: error(exc, "GET", path, context))

    def with_result(
        self,
        result_id: int | str,
        use: Callable[[ResultBody], _T],
        *,
        query_id: int | str | None = None,
    ) -> _T:
        """``use(body)`` on a JSON result by id (:meth:`open_result`), e.g. decoding it.

        When the body breaks off while ``use`` reads it, the result is downloaded again and
        ``use`` starts over: a stored result never changes and nothing runs again on the server.
        Retried like any safe request (``retries``, backoff, within the deadline).
        """

        def attempt() -> _T:
            with self._open_result(result_id, query_id, self._body_error) as body:
                return use(body)

        return again_if_body_breaks(attempt, "GET", self._retry_policy())

    # -- dashboards ------------------------------------------------------------------------
    def list_dashboards(
        self,
        q: str | None = None,
        tags: Sequence[str] | str | None = None,
        *,
        page_size: int = MAX_PAGE_SIZE,
        limit: int | None = None,
    ) -> Iterator[Dashboard]:
        """All dashboards (without widgets), page by page; stops at the last page."""
        for item in self._paginate(
            "dashboards", q, tags, None, page_size, limit, "list dashboards"
        ):
            yield Dashboard.from_json(item)

    def get_dashboard(self, id_or_slug: int | str) -> Dashboard:
        """A dashboard with its widgets, by numeric id or by slug, on any server generation.

        A string of digits is an id, or else a slug (a dashboard named "2024").

        v10+ routes take the numeric id and find a slug with ``?legacy``; v8/v9 routes take
        only the slug (and ignore ``?legacy``), so there an id is mapped to its slug through
        :meth:`list_dashboards`. The generation is learned from the first answer that proves
        it (an id route returning that id, or a plain slug route working) and remembered.
        """
        if isinstance(id_or_slug, int):
            return self._dashboard_by_id(_as_id(id_or_slug, "dashboard id"))
        if isinstance(id_or_slug, str) and id_or_slug.strip().isdigit():
            # "12" from a config or a command line is an id; a dashboard named "2024" has the
            # slug "2024": the id is tried first, then the slug
            try:
                return self._dashboard_by_id(_as_id(id_or_slug.strip(), "dashboard id"))
            except NotFoundError:
                log.debug("no dashboard with id %s; trying it as a slug", id_or_slug.strip())
        if not isinstance(id_or_slug, str) or not id_or_slug.strip():
            raise ConfigError(
                f"A dashboard is given by numeric id or slug (e.g. 'my-dashboard'), "
                f"not {id_or_slug!r}."
            )
        slug = id_or_slug.strip()
        quoted = quote(slug, safe="")
        what = f"dashboard {slug!r}"
        if self._dashboard_slug_style != "slug":
            data = self._v10_dashboard_route(f"dashboards/{quoted}?legacy", what)
            if data is not None:
                # v8/v9 ignore ?legacy, so this success does not tell the generation
                return self._remember_slug(Dashboard.from_json(expect_dict(data, "a dashboard")))
        try:
            data = self._json("GET", f"dashboards/{quoted}", what=what, user_only=True)
        except (NotFoundError, ServerError) as exc:
            if isinstance(exc, TransportError):
                raise
            kind = "id or slug" if slug.isdigit() else "slug"
            raise NotFoundError(
                f"No dashboard with {kind} {slug!r} on {self.url} (neither "
                f"/api/dashboards/{quoted}?legacy nor /api/dashboards/{quoted} found it). "
                "Check the slug in the dashboard's address, or pass its numeric id.",
                status_code=exc.status_code,
            ) from None
        self._dashboard_slug_style = "slug"
        return self._remember_slug(Dashboard.from_json(expect_dict(data, "a dashboard")))

    def _v10_dashboard_route(self, path: str, what: str) -> Any | None:
        """GET a v10+ dashboard route; ``None`` when it fails on a server that may be v8/v9
        (then the caller tries the slug route); errors once the server is known to be v10+."""
        try:
            return self._json("GET", path, what=what, user_only=True)
        except (NotFoundError, ServerError) as exc:
            if isinstance(exc, TransportError) or self._dashboard_slug_style == "legacy":
                raise
            log.debug("GET /api/%s failed (%s); trying the v8/v9 slug route", path, exc)
            return None

    def _remember_slug(self, dashboard: Dashboard) -> Dashboard:
        if dashboard.slug:
            self._dashboard_slugs[dashboard.id] = dashboard.slug
        return dashboard

    def _dashboard_by_id(self, did: int) -> Dashboard:
        """GET by id (v10+), or by the id's slug from the listing (v8/v9 routes take slugs)."""
        what = f"dashboard {did}"
        if self._dashboard_slug_style != "slug":
            data = self._v10_dashboard_route(f"dashboards/{did}", what)
            if data is not None:
                found = Dashboard.from_json(expect_dict(data, "a dashboard"))
                if found.id == did:
                    self._dashboard_slug_style = "legacy"
                    return found
                # v8/v9 read the id as a slug and found a dashboard named like the number
        slug = self._dashboard_slugs.get(did) or next(
            (d.slug for d in self.list_dashboards() if d.id == did), None
        )
        if slug:
            quoted = quote(slug, safe="")
            data = self._json("GET", f"dashboards/{quoted}", what=what, user_only=True)
            found = Dashboard.from_json(expect_dict(data, "a dashboard"))
            if found.id == did:
                self._dashboard_slug_style = "slug"
                return self._remember_slug(found)
        raise NotFoundError(
            f"No dashboard with id {did} on {self.url} (neither /api/dashboards/{did} nor the "
            "dashboard list found it; archived dashboards are not listed). Check the id in the "
            "dashboard's address, or pass its slug."
        )

    def _dashboard_routes_take_slugs(self, known: Dashboard) -> bool:
        """True on v8/v9 (dashboard routes take slugs); ``known`` is a dashboard that exists."""
        if self._dashboard_slug_style is None:
            major = _major_version(self._quiet_server_version())
            if major is not None:
                self._dashboard_slug_style = "slug" if major < 10 else "legacy"
        if self._dashboard_slug_style is None:
            try:
                data = self._json(
                    "GET", f"dashboards/{known.id}", what=f"dashboard {known.id}", user_only=True
                )
                by_id = Dashboard.from_json(expect_dict(data, "a dashboard"))
            except (NotFoundError, ServerError):
                by_id = None
            proven = by_id is not None and by_id.id == known.id
            self._dashboard_slug_style = "legacy" if proven else "slug"
        return self._dashboard_slug_style == "slug"

    def _quiet_server_version(self) -> str | None:
        try:
            return self.get_server_version()
        except (NotFoundError, ServerError, AuthError, ForbiddenError) as exc:
            log.debug("server version unavailable (%s)", exc)
            return None

    def create_dashboard(self, name: str) -> Dashboard:
        """Create a (draft) dashboard."""
        self._require_user_key("create dashboards")
        if not isinstance(name, str) or not name.strip():
            raise ConfigError("A new dashboard needs a non-empty name.")
        data = self._json("POST", "dashboards", body={"name": name}, user_only=True)
        return Dashboard.from_json(expect_dict(data, "a dashboard"))

    def edit_dashboard(
        self, dashboard_id: int | str, *, version: int | None = None, **fields: Any
    ) -> Dashboard:
        """Change fields (``name``, ``tags``, ``is_draft``, ``layout``, …) of a dashboard by id."""
        did = _as_id(dashboard_id, "dashboard_id")
        body = dict(fields)
        if version is not None:
            body["version"] = version
        data = self._json(
            "POST", f"dashboards/{did}", body=body, what=f"dashboard {did}", user_only=True
        )
        return Dashboard.from_json(expect_dict(data, "a dashboard"))

    def archive_dashboard(self, dashboard: int | str) -> None:
        """Archive a dashboard given by id or slug (v8/v9 servers are addressed by slug)."""
        if self._dashboard_slug_style == "legacy" and isinstance(dashboard, int):
            key: int | str = _as_id(dashboard, "dashboard")  # a string of digits may be a slug
        else:
            found = self.get_dashboard(dashboard)
            slugs = self._dashboard_routes_take_slugs(found)
            key = quote(found.slug, safe="") if slugs else found.id
        self._json("DELETE", f"dashboards/{key}", what=f"dashboard {dashboard}", user_only=True)

    # -- data sources / org ----------------------------------------------------------------
    def list_data_sources(self) -> list[DataSource]:
        """The data sources this user may see (sorted by name by the server)."""
        self._require_user_key("list data sources")
        data = self._json("GET", "data_sources", what="data sources", user_only=True)
        if not isinstance(data, list):
            raise ServerError("GET /api/data_sources did not answer a list.")
        sources = [wire_model(DataSource.from_json, item, "a data source") for item in data]
        self._data_source_names = {source.id: source.name for source in sources}
        return sources

    def listed_data_sources(self) -> dict[int, str] | None:
        """The data sources (id → name) this client last listed, or ``None`` (no request)."""
        return None if self._data_source_names is None else dict(self._data_source_names)

    def resolve_data_source(self, id_or_name: int | str) -> DataSource:
        """A data source by id (int or digit string) or exact name."""
        if isinstance(id_or_name, bool) or not isinstance(id_or_name, (numbers.Integral, str)):
            raise ConfigError(
                f"A data source is given by id or name, not {type(id_or_name).__name__}."
            )
        sources = self.list_data_sources()
        if not isinstance(id_or_name, str) or id_or_name.strip().isdigit():
            wanted_id = int(id_or_name)
            match = [s for s in sources if s.id == wanted_id]
        else:
            match = [s for s in sources if s.name == id_or_name]
        if match:
            return match[0]
        available = ", ".join(f"{s.name} (id {s.id})" for s in sources) or "none visible"
        raise NotFoundError(f"No data source {id_or_name!r} on {self.url}. Available: {available}.")

    def get_client_config(self) -> dict[str, Any]:
        """The server's ``client_config`` (date formats, page size, version for users).

        From ``/api/session`` for a user key, else from ``/api/config`` (no login needed).
        """
        if self.key_kind != "query":
            try:
                data = self._json(
                    "GET", "session", what="session", user_only=True, detect_user=False
                )
            except AuthError:
                if self.key_kind == "user":
                    raise
            else:
                config = expect_dict(data, "a session").get("client_config")
                if isinstance(config, dict):
                    return config
        data = self._json("GET", "config", what="server config")
        config = expect_dict(data, "a config").get("client_config")
        if not isinstance(config, dict):
            raise ServerError("GET /api/config did not include client_config.")
        return config

    def get_server_version(self) -> str | None:
        """The server's version string (only shown to user keys), or ``None``."""
        version = self.get_client_config().get("version")
        return str(version) if version else None

    # -- plumbing --------------------------------------------------------------------------
    def _require_user_key(self, action: str) -> None:
        if self.key_kind == "query":
            raise ForbiddenError(
                f"Cannot {action} with a query API key; a query key only reads and runs its "
                "own query. Use a user API key (from your Watch profile page)."
            )

    def _page(
        self,
        resource: str,
        page: int,
        page_size: int,
        q: str | None,
        tags: Sequence[str] | str | None,
        order: str | None,
        action: str,
    ) -> Page:
        self._require_user_key(action)
        if isinstance(page, bool) or not isinstance(page, int) or page < 1:
            raise ConfigError(f"page must be a positive integer, not {page!r}.")
        _check_page_size(page_size)
        params: dict[str, Any] = {"page": page, "page_size": page_size}
        if q:
            params["q"] = q
        if tags:
            params["tags"] = [tags] if isinstance(tags, str) else list(tags)
        if order:
            params["order"] = order
        data = expect_dict(
            self._json("GET", resource, params=params, what=resource, user_only=True), "a page"
        )
        try:
            return Page(
                count=int(data["count"]),
                page=int(data.get("page", page)),
                page_size=int(data.get("page_size", page_size)),
                results=list(data["results"]),
            )
        except (KeyError, TypeError, ValueError):
            raise ServerError(
                f"GET /api/{resource} did not answer a page envelope (count/results)."
            ) from None

    def _paginate(
        self,
        resource: str,
        q: str | None,
        tags: Sequence[str] | str | None,
        order: str | None,
        page_size: int,
        limit: int | None,
        action: str,
    ) -> Iterator[dict[str, Any]]:
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int) or limit < 0
        ):
            raise ConfigError(f"limit must be a non-negative integer or None, not {limit!r}.")
        _check_page_size(page_size)
        if limit is not None:
            page_size = max(1, min(page_size, limit))
        yielded = 0
        page_number = 1
        last_page = 1
        while page_number <= last_page and (limit is None or yielded < limit):
            page = self._page(resource, page_number, page_size, q, tags, order, action)
            # Never ask past ceil(count / page_size): the server answers that with a 400.
            last_page = max(1, math.ceil(page.count / page_size))
            for item in page.results:
                if limit is not None and yielded >= limit:
                    return
                yielded += 1
                yield item
            if not page.results:
                return
            page_number += 1

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._request(method, path, **kwargs)
        return decode_json(response, method, path, self._redact)

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        what: str | None = None,
        user_only: bool = False,
        detect_user: bool | None = None,
        query_id: int | None = None,
        job_id: str | None = None,
        sent_parameters: Mapping[str, Any] | None = None,
        stream: bool = False,
    ) -> requests.Response:
        """Send one request; return the 2xx response or raise the fitting WatchError.

        Without ``stream`` the body is read here, and a safe request whose body breaks off
        is sent again (urllib3 only retries failures before the response headers).
        """
        context = {"query_id": query_id, "job_id": job_id}

        def send() -> requests.Response:
            return self._send(
                method,
                path,
                context,
                params=params,
                body=body,
                what=what,
                user_only=user_only,
                detect_user=detect_user,
                sent_parameters=sent_parameters,
                stream=stream,
            )

        if stream:
            return send()
        return again_if_body_breaks(send, method, self._retry_policy())

    def _send(
        self,
        method: str,
        path: str,
        context: dict[str, Any],
        *,
        params: Mapping[str, Any] | None,
        body: Any,
        what: str | None,
        user_only: bool,
        detect_user: bool | None,
        sent_parameters: Mapping[str, Any] | None,
        stream: bool,
    ) -> requests.Response:
        url = f"{self.url}/api/{path}"
        timeout = timeout_within_deadline(self.timeout, method, path, context)
        started = time.monotonic()
        try:
            response = self.session.request(
                method,
                url,
                params=params,
                json=body if method in ("POST", "PUT") else None,
                headers=self._headers,
                auth=self._auth,
                timeout=timeout,
                # A redirect turns a POST into a GET (docs/protocol.md#redirects): refuse it
                # instead of following.
                allow_redirects=method != "POST",
                # The body is read below, so that a body breaking off is told apart from a
                # request that failed before the headers (which urllib3 already retried).
                stream=True,
            )
        except DeadlineReached as reached:
            raise retry_deadline_error(reached, request_line(method, path), context) from None
        except requests.RequestException as exc:
            left = time_left()
            if left is not None and left <= DEADLINE_SLACK:
                raise deadline_error(method, path, context) from None
            raise self._transport_error(exc, method, path, context) from None
        if not stream:
            self._read_body(response, method, path, context)
        elapsed = time.monotonic() - started
        log.debug("%s %s -> %s in %.3fs", method, urlsplit(url).path, response.status_code, elapsed)
        if response.ok and not response.is_redirect:
            check_not_login_page(response, method, path, context, url=self.url)
            # Success on a user-key-only route proves a user key (``detect_user`` opts out).
            proves_user = user_only if detect_user is None else detect_user
            if proves_user and self._key_kind == "auto" and self._detected_kind == "auto":
                self._detected_kind = "user"
            return response
        try:
            raise http_error(
                response,
                method,
                path,
                what=what,
                user_only=user_only,
                sent_parameters=sent_parameters,
                context=context,
                url=self.url,
                key_kind=self._key_kind,
                retries=self.retries,
                redact=self._redact,
            )
        finally:
            response.close()

    def _read_body(
        self, response: requests.Response, method: str, path: str, context: dict[str, Any]
    ) -> None:
        """Read the whole body now (``response.content`` keeps it)."""
        try:
            response.content  # noqa: B018 - reading is the point
        except requests.RequestException as exc:
            response.close()
            left = time_left()
            if left is not None and left <= DEADLINE_SLACK:
                raise deadline_error(method, path, context) from None
            raise self._body_error(exc, method, path, context) from None

    def _redact(self, text: str) -> str:
        return text.replace(self._key, "<redacted>") if self._key else text

    def _transport_error(
        self, exc: requests.RequestException, method: str, path: str, context: dict[str, Any]
    ) -> WatchError:
        """The error for a failed request or body read (this client's URL, retries, timeout)."""
        return transport_error(
            exc,
            method,
            path,
            context,
            url=self.url,
            retries=self.retries,
            read_timeout=self.timeout[1],
        )

    def _body_error(
        self, exc: requests.RequestException, method: str, path: str, context: dict[str, Any]
    ) -> WatchError:
        """The error for a body that broke off after the headers (see :meth:`_request`)."""
        return broken_body_error(exc, method, path, context, read_timeout=self.timeout[1])

    def _retry_policy(self) -> Retry:
        """A fresh count of this client's retries, for bodies that break off."""
        return retry_policy(self.retries, self._backoff_factor)


# -- helpers (module level, no client state) -----------------------------------------------
def _as_id(value: object, name: str) -> int:
    """A positive integer id from an int or a digit string."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool) and value > 0:
        return int(value)  # numpy integers (ids out of a DataFrame) as plain ints
    if isinstance(value, str) and value.strip().isdigit() and int(value) > 0:
        return int(value)
    raise ConfigError(f"{name} must be a positive integer id like 42, not {value!r}.")


def _as_job_id(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"job_id must be the job's id string (a UUID), not {value!r}.")
    return value.strip()


def _check_format(fmt: object) -> str:
    if fmt not in RESULT_FORMATS:
        raise ConfigError(
            f"Unknown result format {fmt!r}; use one of {', '.join(RESULT_FORMATS)} (lower case)."
        )
    return str(fmt)


def _check_page_size(page_size: object) -> None:
    if (
        isinstance(page_size, bool)
        or not isinstance(page_size, int)
        or not 1 <= page_size <= MAX_PAGE_SIZE
    ):
        raise ConfigError(
            f"page_size must be an integer from 1 to {MAX_PAGE_SIZE}, not {page_size!r}."
        )


def _check_timeout(timeout: object) -> tuple[float, float]:
    if _positive_seconds(timeout):
        return (float(timeout), float(timeout))  # type: ignore[arg-type]
    if isinstance(timeout, tuple) and len(timeout) == 2 and all(map(_positive_seconds, timeout)):
        return (float(timeout[0]), float(timeout[1]))
    raise ConfigError(
        f"timeout must be seconds > 0 or a (connect, read) pair like (10, 300), not {timeout!r}."
    )


def _positive_seconds(value: object) -> bool:
    return (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    )


def _max_age(max_age: object) -> int:
    if max_age is None:
        return -1
    if not isinstance(max_age, numbers.Integral) or isinstance(max_age, bool) or max_age < -1:
        raise ConfigError(
            f"max_age must be seconds (an int >= 0), -1 or None for any age, not {max_age!r}."
        )
    return int(max_age)


def _major_version(version: str | None) -> int | None:
    """The leading number of a server version (``"8.0.0+b32245"`` → 8), or ``None``."""
    match = re.match(r"\s*v?(\d+)", version or "")
    return int(match.group(1)) if match else None
