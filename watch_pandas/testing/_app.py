"""The WSGI application: routes, authentication, and the domain of a Watch/Redash server.

Behaviour follows docs/protocol.md (what a running server was seen to do first). Handlers raise
``_Reply`` to answer early; any other exception becomes 500 ``{"message": "Internal Server
Error"}`` as on the real server.
"""

from __future__ import annotations

import json
import re
import secrets
import tempfile
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import BaseConverter, Map, Rule
from werkzeug.wrappers import Request, Response

from .. import _constants as C
from . import _engine, _params
from . import _serialize as S
from ._faults import Counters
from ._jobs import JobManager
from ._store import Store, StoredResult, iso_z, utcnow

VERSION = "26.08.0-dev"
V8_VERSION = "8.0.0"
PLEASE_LOGIN = "Couldn't find resource. Please login and try again."
NOT_FOUND = (
    "The requested URL was not found on the server. If you entered the URL manually please "
    "check your spelling and try again."
)
NO_CACHED = "No cached result found for this query."
UNSAFE_SHARED = (
    "This query contains potentially unsafe parameters and cannot be executed on a shared "
    "dashboard or an embedded visualization."
)
UNSAFE_VIEW_ONLY = (
    "This query contains potentially unsafe parameters and cannot be executed with read-only "
    "access to this data source."
)
NO_PERMISSION = "You do not have permission to run queries with this data source."
CANNOT_EDIT = "You don't have permission to edit this resource."
SERIALIZE_STORED = "stored"
SERIALIZE_PER_REQUEST = "per-request"
XLSX_NOT_MADE = "The local Watch server does not make .xlsx downloads; use .json, .csv or .tsv."
SERIALIZE_MODES = (SERIALIZE_STORED, SERIALIZE_PER_REQUEST)
_CONTENT_TYPES = {
    "json": "application/json",
    "csv": "text/csv; charset=UTF-8",
    "tsv": "text/tab-separated-values; charset=UTF-8",
}


class _Reply(Exception):
    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body), status=status, headers=headers, content_type="application/json"
    )


def abort(status: int, message: str) -> _Reply:
    return _Reply(json_response({"message": message}, status))


def _check_extension(ext: str | None) -> None:
    """A download format the local server makes; xlsx is a clear 501 (Redash makes it, this
    server does not), anything else a 500 as upstream."""
    if ext == "xlsx":
        raise abort(501, XLSX_NOT_MADE)
    if ext is not None and ext not in _CONTENT_TYPES:
        raise ValueError(f"unknown extension {ext!r}")


def job_error(status: int, message: str) -> _Reply:
    return _Reply(json_response({"job": {"status": C.JOB_FAILED, "error": message}}, status))


class _IdConverter(BaseConverter):
    """Any path segment without ``/`` or ``.`` (non-numeric ids then fail with 500)."""

    regex = r"[^/.]+"


def _int(value: Any) -> int:
    return int(value)  # ValueError → 500, as the real server's integer casts


def slugify(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "dashboard"


@dataclass
class Caller:
    """Who is calling: a user, or a query key acting on one query (``api_query_id``)."""

    user: dict[str, Any] | None
    api_query_id: int | None = None

    @property
    def is_api(self) -> bool:
        return self.api_query_id is not None

    @property
    def is_admin(self) -> bool:
        return bool(self.user and self.user.get("is_admin"))


# (template, methods, handler name, query key allowed, login needed)
_ROUTES: list[tuple[str, tuple[str, ...], str, bool, bool]] = [
    ("/api/config", ("GET",), "config", False, False),
    ("/api/session", ("GET",), "session", False, True),
    ("/api/settings/organization", ("GET",), "org_settings", False, True),
    ("/api/data_sources", ("GET",), "data_sources", False, True),
    ("/api/data_sources/<id:ds_id>", ("GET",), "data_source", False, True),
    ("/api/queries", ("GET",), "queries_list", False, True),
    ("/api/queries", ("POST",), "query_create", False, True),
    ("/api/queries/search", ("GET",), "queries_search", False, True),
    ("/api/queries/my", ("GET",), "queries_my", False, True),
    ("/api/queries/favorites", ("GET",), "queries_favorites", False, True),
    ("/api/queries/archive", ("GET",), "queries_archive", False, True),
    ("/api/queries/recent", ("GET",), "queries_recent", False, True),
    ("/api/queries/tags", ("GET",), "queries_tags", False, True),
    ("/api/queries/<id:query_id>", ("GET",), "query_get", True, True),
    ("/api/queries/<id:query_id>", ("POST",), "query_edit", False, True),
    ("/api/queries/<id:query_id>", ("DELETE",), "query_archive", False, True),
    ("/api/queries/<id:query_id>/results", ("POST",), "query_execute", True, True),
    ("/api/queries/<id:query_id>/results", ("GET",), "query_result", True, True),
    ("/api/queries/<id:query_id>/results.<ext>", ("GET",), "query_result", True, True),
    (
        "/api/queries/<id:query_id>/results/<id:result_id>.<ext>",
        ("GET",),
        "query_result",
        True,
        True,
    ),
    ("/api/queries/<id:query_id>/jobs/<job_id>", ("GET",), "job_get", True, True),
    ("/api/queries/<id:query_id>/jobs/<job_id>", ("DELETE",), "server_error", True, True),
    ("/api/queries/<id:query_id>/refresh", ("POST",), "query_refresh", True, True),
    ("/api/queries/<id:query_id>/dropdown", ("GET",), "query_dropdown", True, True),
    (
        "/api/queries/<id:query_id>/dropdowns/<id:dropdown_id>",
        ("GET",),
        "query_dropdowns",
        True,
        True,
    ),
    ("/api/query_results", ("POST",), "adhoc_execute", False, True),
    ("/api/query_results/<id:result_id>", ("GET",), "result_get", False, True),
    ("/api/query_results/<id:result_id>.<ext>", ("GET",), "result_get", False, True),
    ("/api/jobs/<job_id>", ("GET",), "job_get", False, True),
    ("/api/jobs/<job_id>", ("DELETE",), "job_cancel", False, True),
    ("/api/dashboards", ("GET",), "dashboards_list", False, True),
    ("/api/dashboards", ("POST",), "dashboard_create", False, True),
    ("/api/dashboards/my", ("GET",), "dashboards_my", False, True),
    ("/api/dashboards/favorites", ("GET",), "dashboards_favorites", False, True),
    ("/api/dashboards/tags", ("GET",), "dashboards_tags", False, True),
    ("/api/dashboards/<dashboard_id>", ("GET",), "dashboard_get", False, True),
    ("/api/dashboards/<dashboard_id>", ("POST",), "dashboard_edit", False, True),
    ("/api/dashboards/<dashboard_id>", ("DELETE",), "dashboard_archive", False, True),
]


def route_template(rule: str) -> str:
    """``/api/queries/<id:query_id>/results.<ext>`` → ``/api/queries/<id>/results.<ext>``."""
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m: "<ext>" if m[1] == "ext" else "<id>", rule)


class WatchApp:
    """State and behaviour of one local Watch server (a WSGI callable)."""

    def __init__(
        self,
        store: Store,
        *,
        counters: Counters,
        workers: int = 2,
        execution_delay: float = 0.0,
        admin_key: str | None = None,
        date_format: str = "DD/MM/YY",
        time_format: str = "HH:mm",
    ) -> None:
        self.store = store
        self.counters = counters
        self.base_url = ""
        # v8 generation: GET/DELETE /api/dashboards/<slug> (POST edits still take the id)
        self.dashboard_slug_routes = False
        # "stored": result bodies stream from the stored rows; "per-request": each JSON/CSV
        # body is encoded from the rows before its first byte (Redash's handlers)
        self.serialize = SERIALIZE_STORED
        self._lock = threading.RLock()
        self._fail_rules: list[tuple[int | str, str]] = []
        self.jobs = JobManager(
            store,
            workers=workers,
            execution_delay=execution_delay,
            on_result=self._on_result,
            failure_for=self._failure_for,
        )
        if store.setting("date_format") is None:
            self.set_date_format(date_format, time_format)
        admin = self.store.get("users", 1)
        if admin is None:
            self.create_user("Admin", email="admin@example.com", is_admin=True, api_key=admin_key)
        elif admin_key and admin["api_key"] != admin_key:
            admin["api_key"] = admin_key
            self.store.put("users", admin)
        self._map = Map(
            [
                Rule(t, methods=list(m), endpoint=(h, qk, login, route_template(t)))
                for t, m, h, qk, login in _ROUTES
            ],
            converters={"id": _IdConverter},
        )

    # ======================================================================================
    # domain operations (used by handlers and by LocalWatch helpers)
    # ======================================================================================
    @property
    def admin(self) -> dict[str, Any]:
        user = self.store.get("users", 1)
        assert user is not None
        return user

    def date_formats(self) -> tuple[str, str]:
        return (
            self.store.setting("date_format") or "DD/MM/YY",
            self.store.setting("time_format") or "HH:mm",
        )

    def set_date_format(self, date_format: str, time_format: str) -> None:
        self.store.set_setting("date_format", date_format)
        self.store.set_setting("time_format", time_format)

    def create_user(
        self,
        name: str,
        *,
        email: str | None = None,
        is_admin: bool = False,
        view_only: bool = False,
        api_key: str | None = None,
    ) -> dict[str, Any]:
        now = iso_z(utcnow())
        user_id = self.store.next_id("users")
        user = {
            "id": user_id,
            "name": name,
            "email": email or f"{slugify(name)}-{user_id}@example.com",
            "api_key": api_key or secrets.token_urlsafe(30),
            "is_admin": is_admin,
            "view_only": view_only,
            "created_at": now,
            "updated_at": now,
        }
        return self.store.put("users", user)

    def create_data_source(self, name: str, *, typed: bool = False) -> dict[str, Any]:
        ds_id = self.store.next_id("data_sources")
        source = {
            "id": ds_id,
            "name": name,
            "type": _engine.TYPED_SQLITE if typed else _engine.SQLITE,
            "path": str(self.store.sources_dir / f"{ds_id}.sqlite"),
            "paused": 0,
            "pause_reason": None,
        }
        _engine.connect(source["path"], source["type"]).close()
        return self.store.put("data_sources", source)

    def data_source(self, ds_id: int) -> dict[str, Any]:
        source = self.store.get("data_sources", ds_id)
        if source is None:
            raise KeyError(f"no data source with id {ds_id}")
        return source

    def pause_data_source(self, ds_id: int, reason: str | None = None) -> None:
        source = self.data_source(ds_id)
        source["paused"], source["pause_reason"] = 1, reason
        self.store.put("data_sources", source)

    def resume_data_source(self, ds_id: int) -> None:
        source = self.data_source(ds_id)
        source["paused"], source["pause_reason"] = 0, None
        self.store.put("data_sources", source)

    def execute_sql(self, ds_id: int, script: str) -> None:
        source = self.data_source(ds_id)
        conn = _engine.connect(source["path"], source["type"])
        try:
            conn.executescript(script)
            conn.commit()
        finally:
            conn.close()

    def _query_doc_defaults(self, doc: dict[str, Any]) -> dict[str, Any]:
        parameters = (doc.get("options") or {}).get("parameters") or []
        doc["query_hash"] = _params.stored_query_hash(doc["query"], parameters)
        doc["is_safe"] = _params.is_safe(parameters)
        return doc

    def create_query(
        self,
        sql: str,
        data_source_id: int,
        *,
        user: dict[str, Any] | None = None,
        name: str = "New Query",
        description: str | None = None,
        options: dict[str, Any] | None = None,
        tags: list[str] | None = None,
        schedule: Any = None,
        is_draft: bool = True,
    ) -> dict[str, Any]:
        user = user or self.admin
        self.data_source(int(data_source_id))
        now = iso_z(utcnow())
        query_id = self.store.next_id("queries")
        vis_id = self.store.next_id("visualizations")
        doc = {
            "id": query_id,
            "name": name,
            "description": description,
            "query": sql,
            "schedule": schedule,
            "api_key": secrets.token_urlsafe(30),
            "is_archived": False,
            "is_draft": is_draft,
            "created_at": now,
            "updated_at": now,
            "data_source_id": int(data_source_id),
            "options": options or {},
            "version": 1,
            "tags": list(tags or []),
            "user_id": user["id"],
            "last_modified_by_id": user["id"],
            "latest_query_data_id": None,
            "visualizations": [
                {
                    "id": vis_id,
                    "type": "TABLE",
                    "name": "Table",
                    "description": "",
                    "options": {},
                    "created_at": now,
                    "updated_at": now,
                }
            ],
        }
        self._query_doc_defaults(doc)
        latest = self.store.latest_result(doc["data_source_id"], doc["query_hash"])
        doc["latest_query_data_id"] = latest.id if latest else None
        return self.store.put("queries", doc)

    def update_query(
        self, query: dict[str, Any], changes: dict[str, Any], user: dict[str, Any]
    ) -> dict[str, Any]:
        with self._lock:  # re-read: a job may have set latest_query_data_id meanwhile
            return self._update_query(
                self.store.get("queries", query["id"]) or query, changes, user
            )

    def _update_query(
        self, query: dict[str, Any], changes: dict[str, Any], user: dict[str, Any]
    ) -> dict[str, Any]:
        changes = dict(changes)
        for ignored in (
            "id",
            "created_at",
            "api_key",
            "visualizations",
            "latest_query_data",
            "user",
            "last_modified_by",
            "org",
            "query_hash",
            "is_safe",
            "user_id",
        ):
            changes.pop(ignored, None)
        if "version" in changes and changes.pop("version") != query["version"]:
            raise abort(409, "Conflict")
        if "data_source_id" in changes:
            self.data_source(int(changes["data_source_id"]))
        for key in (
            "name",
            "description",
            "query",
            "data_source_id",
            "options",
            "schedule",
            "tags",
            "is_draft",
            "is_archived",
        ):
            if key in changes:
                query[key] = changes[key]
        query["version"] += 1
        query["updated_at"] = iso_z(utcnow())
        query["last_modified_by_id"] = user["id"]
        self._query_doc_defaults(query)
        return self.store.put("queries", query)

    def archive_query(self, query: dict[str, Any]) -> None:
        with self._lock:
            self._archive_query(self.store.get("queries", query["id"]) or query)

    def _archive_query(self, query: dict[str, Any]) -> None:
        query["is_archived"] = True
        query["schedule"] = None
        query["updated_at"] = iso_z(utcnow())
        self.store.put("queries", query)
        vis_ids = {v["id"] for v in query.get("visualizations", [])}
        for dashboard in self.store.all("dashboards"):
            kept = [w for w in dashboard["widgets"] if w.get("visualization_id") not in vis_ids]
            if len(kept) != len(dashboard["widgets"]):
                dashboard["widgets"] = kept
                self.store.put("dashboards", dashboard)

    def create_dashboard(
        self,
        name: str,
        *,
        user: dict[str, Any] | None = None,
        query_ids: Iterable[int] = (),
        is_draft: bool = True,
        tags: list[str] | None = None,
    ) -> dict[str, Any]:
        user = user or self.admin
        now = iso_z(utcnow())
        dashboard_id = self.store.next_id("dashboards")
        widgets = []
        for index, query_id in enumerate(query_ids):
            query = self.store.get("queries", int(query_id))
            if query is None:
                raise KeyError(f"no query with id {query_id}")
            widgets.append(
                {
                    "id": self.store.next_id("widgets"),
                    "width": 1,
                    "options": {
                        "position": {
                            "col": (index % 2) * 3,
                            "row": (index // 2) * 8,
                            "sizeX": 3,
                            "sizeY": 8,
                        },
                        # What the web UI's "add widget" saves by default: each
                        # parameter becomes (or joins) a dashboard-level parameter.
                        "parameterMappings": {
                            p["name"]: {
                                "name": p["name"],
                                "type": "dashboard-level",
                                "mapTo": p["name"],
                                "value": None,
                                "title": "",
                            }
                            for p in (query.get("options") or {}).get("parameters") or []
                        },
                    },
                    "dashboard_id": dashboard_id,
                    "text": "",
                    "created_at": now,
                    "updated_at": now,
                    "visualization_id": query["visualizations"][0]["id"],
                    "query_id": query["id"],
                }
            )
        doc = {
            "id": dashboard_id,
            "slug": slugify(name),
            "name": name,
            "user_id": user["id"],
            "layout": [],
            "dashboard_filters_enabled": False,
            "widgets": widgets,
            "options": {},
            "is_archived": False,
            "is_draft": is_draft,
            "tags": list(tags or []),
            "created_at": now,
            "updated_at": now,
            "version": 1,
        }
        return self.store.put("dashboards", doc)

    def fail_query(self, match: int | str, error: str) -> None:
        with self._lock:
            self._fail_rules.append((match, error))

    def clear_failures(self) -> None:
        with self._lock:
            self._fail_rules.clear()

    def _failure_for(self, job: Any) -> str | None:
        with self._lock:
            rules = list(self._fail_rules)
        for match, error in rules:
            if isinstance(match, int) and job.query_id == match:
                return error
            if isinstance(match, str) and match in job.sql:
                return error
        return None

    def _on_result(self, result: StoredResult) -> None:
        """A finished run becomes latest_query_data of every saved query with its hash."""
        with self._lock:
            self._set_latest(result)

    def _set_latest(self, result: StoredResult) -> None:
        for query in self.store.all("queries"):
            if (
                not query["is_archived"]
                and query["data_source_id"] == result.data_source_id
                and query["query_hash"] == result.query_hash
            ):
                query["latest_query_data_id"] = result.id
                self.store.put("queries", query)

    def add_result(self, ds_id: int, sql: str, *, retrieved_at: Any = None) -> StoredResult:
        """Run ``sql`` synchronously and store it as a cached result (seeding, tests)."""
        source = self.data_source(ds_id)
        conn = _engine.connect(source["path"], source["type"])
        with tempfile.NamedTemporaryFile(
            dir=self.store.results_dir, suffix=".part", delete=False
        ) as out:
            try:
                execution = _engine.execute(conn, sql, source["type"], out)
            finally:
                conn.close()
        result = self.store.add_result(
            data_source_id=ds_id,
            query_hash=_params.query_hash(sql),
            query=sql,
            columns=execution.columns,
            row_count=execution.row_count,
            runtime=execution.runtime,
            rows_file=Path(out.name),
            retrieved_at=retrieved_at,
        )
        self._on_result(result)
        return result

    def dropdown_values(self, query_id: int) -> list[str]:
        query = self.store.get("queries", query_id)
        if query is None or not query.get("data_source_id"):
            raise _params.DetachedDropdown()
        result_id = query.get("latest_query_data_id")
        result = self.store.get_result(result_id) if result_id else None
        if result is None:
            return []
        with open(result.rows_path, "rb") as fh:
            rows = list(_engine.iter_rows(fh))
        return _params.dropdown_values_from_result(result.columns, rows)

    # ======================================================================================
    # WSGI plumbing
    # ======================================================================================
    def route_of(self, method: str, path: str) -> str:
        """Route template of a request (for counters); the path itself when nothing matches."""
        try:
            (_, _, _, template), _ = self._map.bind("localhost").match(path, method=method)
        except HTTPException:
            return path
        return template

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        request = Request(environ)
        try:
            response = self._dispatch(request)
        except _Reply as reply:
            response = reply.response
        except NotFound:
            response = json_response({"message": NOT_FOUND}, 404)
        except MethodNotAllowed:
            response = json_response(
                {"message": "The method is not allowed for the requested URL."}, 405
            )
        except Exception:  # noqa: BLE001 - the real server's generic 500
            response = json_response({"message": "Internal Server Error"}, 500)
        return response(environ, start_response)

    def _dispatch(self, request: Request) -> Response:
        adapter = self._map.bind_to_environ(request.environ)
        (handler, query_key_ok, login, _), values = adapter.match()
        caller = self._authenticate(request, values, query_key_ok) if login else Caller(None)
        return getattr(self, f"h_{handler}")(request, caller, **values)

    def _authenticate(self, request: Request, values: dict[str, Any], query_key_ok: bool) -> Caller:
        key = request.args.get("api_key")
        if not key:
            header = request.headers.get("Authorization")
            key = header.replace("Key ", "", 1) if header else None
        if key:
            for user in self.store.all("users"):
                if secrets.compare_digest(str(user["api_key"]), key):
                    return Caller(user)
            if query_key_ok and "query_id" in values:
                try:
                    query = self.store.get("queries", int(values["query_id"]))
                except ValueError:
                    query = None
                if query is not None and secrets.compare_digest(str(query["api_key"]), key):
                    return Caller(None, api_query_id=query["id"])
        raise abort(404, PLEASE_LOGIN)

    # -- helpers ---------------------------------------------------------------------------
    @staticmethod
    def _body(request: Request) -> Any:
        return request.get_json(force=True, silent=True)

    def _users(self) -> dict[int, dict[str, Any]]:
        return {u["id"]: u for u in self.store.all("users")}

    def _get_query(self, query_id: Any) -> dict[str, Any]:
        query = self.store.get("queries", _int(query_id))
        if query is None:
            raise abort(404, NOT_FOUND)
        return query

    def _require_user(self, caller: Caller) -> dict[str, Any]:
        if caller.user is None:
            raise abort(404, PLEASE_LOGIN)
        return caller.user

    def _require_editor(self, caller: Caller, owner_id: int) -> dict[str, Any]:
        user = self._require_user(caller)
        if not (user.get("is_admin") or user["id"] == owner_id) or user.get("view_only"):
            raise abort(403, CANNOT_EDIT)
        return user

    def _result_of(self, result_id: Any) -> StoredResult | None:
        return self.store.get_result(_int(result_id))

    def _query_json(self, query: dict[str, Any], caller: Caller, mode: str) -> dict[str, Any]:
        result = None
        if mode == "list" and query.get("latest_query_data_id"):
            result = self.store.get_result(query["latest_query_data_id"])
        user = caller.user or {}
        can_edit = bool(user.get("is_admin") or user.get("id") == query["user_id"])
        return S.query_json(
            query,
            self._users(),
            mode=mode,
            result=result,
            api_user=caller.is_api,
            can_edit=can_edit,
        )

    @staticmethod
    def _paginate(
        request: Request, items: list[Any], serialize: Callable[[Any], dict[str, Any]]
    ) -> Response:
        page = request.args.get("page", 1, type=int)
        page_size = request.args.get("page_size", C.DEFAULT_PAGE_SIZE, type=int)
        count = len(items)
        if page < 1:
            raise abort(400, "Page must be positive integer.")
        if (page - 1) * page_size + 1 > count > 0:
            raise abort(400, "Page is out of range.")
        if page_size > C.MAX_PAGE_SIZE or page_size < 1:
            raise abort(400, "Page size is out of range (1-250).")
        chunk = items[(page - 1) * page_size : page * page_size]
        return json_response(
            {
                "count": count,
                "page": page,
                "page_size": page_size,
                "results": [serialize(item) for item in chunk],
            }
        )

    @staticmethod
    def _filter_and_order(
        request: Request,
        items: list[dict[str, Any]],
        text_fields: tuple[str, ...],
        sort_keys: dict[str, Callable[[dict[str, Any]], Any]],
    ) -> list[dict[str, Any]]:
        tags = request.args.getlist("tags")
        if tags:
            items = [i for i in items if set(tags) <= set(i.get("tags") or [])]
        search = request.args.get("q", "").strip().lower()
        if search:
            items = [
                i for i in items if any(search in str(i.get(f) or "").lower() for f in text_fields)
            ]
        order = request.args.get("order")
        if not order and search:
            return sorted(items, key=lambda i: (search not in i["name"].lower(), -i["id"]))
        order = order or "-created_at"
        descending = order.startswith("-")
        key = sort_keys.get(order.lstrip("-"), sort_keys["created_at"])
        return sorted(items, key=lambda i: (key(i), i["id"]), reverse=descending)

    def _query_sort_keys(self) -> dict[str, Callable[[dict[str, Any]], Any]]:
        def result_attr(attr: str) -> Callable[[dict[str, Any]], Any]:
            def key(query: dict[str, Any]) -> Any:
                rid = query.get("latest_query_data_id")
                result = self.store.get_result(rid) if rid else None
                value = getattr(result, attr) if result else None
                return (value is not None, value if value is not None else 0)

            return key

        users = self._users()
        return {
            "name": lambda q: q["name"].lower(),
            "created_at": lambda q: q["created_at"],
            "schedule": lambda q: json.dumps(q.get("schedule")),
            "runtime": result_attr("runtime"),
            "executed_at": result_attr("retrieved_at"),
            "created_by": lambda q: users.get(q["user_id"], {}).get("name", ""),
            "starred_at": lambda q: q["created_at"],
        }

    def _list_queries(
        self, request: Request, caller: Caller, predicate: Callable[[dict[str, Any]], bool]
    ) -> Response:
        self._require_user(caller)
        items = [q for q in self.store.all("queries") if predicate(q)]
        items = self._filter_and_order(
            request, items, ("name", "description", "query"), self._query_sort_keys()
        )
        return self._paginate(request, items, lambda q: self._query_json(q, caller, "list"))

    # -- session / config / data sources ----------------------------------------------------
    def client_config(self, *, with_version: bool) -> dict[str, Any]:
        date_format, time_format = self.date_formats()
        config: dict[str, Any] = {}
        if with_version:
            config.update(
                {
                    "newVersionAvailable": False,
                    "version": V8_VERSION if self.dashboard_slug_routes else VERSION,
                    "showBeaconConsentMessage": False,
                }
            )
        config.update(
            {
                "allowScriptsInUserInput": False,
                "showPermissionsControl": False,
                "hidePlotlyModeBar": False,
                "disablePublicUrls": False,
                "multiByteSearchEnabled": False,
                "allowCustomJSVisualizations": True,
                "autoPublishNamedQueries": True,
                "extendedAlertOptions": False,
                "mailSettingsMissing": True,
                "dashboardRefreshIntervals": [60, 300, 600, 1800, 3600, 43200, 86400],
                "queryRefreshIntervals": [
                    60,
                    300,
                    600,
                    900,
                    1800,
                    3600,
                    7200,
                    10800,
                    14400,
                    18000,
                    21600,
                    25200,
                    28800,
                    32400,
                    36000,
                    39600,
                    43200,
                    86400,
                    604800,
                    1209600,
                    2592000,
                ],
                "googleLoginEnabled": False,
                "ldapLoginEnabled": False,
                "pageSize": 20,
                "pageSizeOptions": [5, 10, 20, 50, 100],
                "tableCellMaxJSONSize": 50000,
                "basePath": self.base_url + "/",
                "dateFormat": date_format,
                "dateFormatList": ["MM/DD/YY", "DD/MM/YY", "YYYY-MM-DD"],
                "timeFormatList": ["HH:mm:ss", "HH:mm", "HH:mm:ss.SSS"],
                "dateTimeFormat": f"{date_format} {time_format}",
                "integerFormat": "0,0",
                "floatFormat": "0,0.00",
                "thousandsSeparator": ",",
                "decimalSeparator": ".",
                "nullValue": "null",
            }
        )
        return config

    def h_config(self, request: Request, caller: Caller) -> Response:
        return json_response(
            {"org_slug": "default", "client_config": self.client_config(with_version=False)}
        )

    def h_session(self, request: Request, caller: Caller) -> Response:
        user = self._require_user(caller)
        permissions = ["view_query", "list_dashboards", "list_data_sources"]
        if not user.get("view_only"):
            permissions += [
                "create_dashboard",
                "create_query",
                "edit_dashboard",
                "edit_query",
                "view_source",
                "execute_query",
                "schedule_query",
                "list_alerts",
            ]
        if user.get("is_admin"):
            permissions = ["admin", "super_admin", *permissions, "list_users"]
        body = {
            "user": {
                "profile_image_url": S.user_json(user, short=True)["profile_image_url"],
                "id": user["id"],
                "name": user["name"],
                "email": user["email"],
                "groups": S.user_json(user)["groups"],
                "permissions": permissions,
            },
            "messages": [],
            "org_slug": "default",
            "client_config": self.client_config(with_version=True),
        }
        return json_response(body)

    def h_org_settings(self, request: Request, caller: Caller) -> Response:
        user = self._require_user(caller)
        if not user.get("is_admin"):
            raise abort(403, "You don't have permission to view this resource.")
        date_format, time_format = self.date_formats()
        return json_response({"settings": {"date_format": date_format, "time_format": time_format}})

    def h_data_sources(self, request: Request, caller: Caller) -> Response:
        self._require_user(caller)
        sources = sorted(self.store.all("data_sources"), key=lambda s: s["name"].lower())
        return json_response([S.data_source_json(s) for s in sources])

    def h_data_source(self, request: Request, caller: Caller, ds_id: str) -> Response:
        self._require_user(caller)
        source = self.store.get("data_sources", _int(ds_id))
        if source is None:
            raise abort(404, NOT_FOUND)
        return json_response(S.data_source_json(source))

    # -- query listings ---------------------------------------------------------------------
    def h_queries_list(self, request: Request, caller: Caller) -> Response:
        return self._list_queries(request, caller, lambda q: not q["is_archived"])

    def h_queries_my(self, request: Request, caller: Caller) -> Response:
        user = self._require_user(caller)
        return self._list_queries(
            request, caller, lambda q: not q["is_archived"] and q["user_id"] == user["id"]
        )

    def h_queries_favorites(self, request: Request, caller: Caller) -> Response:
        return self._list_queries(request, caller, lambda q: False)

    def h_queries_archive(self, request: Request, caller: Caller) -> Response:
        return self._list_queries(request, caller, lambda q: q["is_archived"] and not q["is_draft"])

    def h_queries_recent(self, request: Request, caller: Caller) -> Response:
        self._require_user(caller)
        items = [q for q in self.store.all("queries") if not q["is_archived"]]
        items.sort(key=lambda q: (q["updated_at"], q["id"]), reverse=True)
        return json_response([self._query_json(q, caller, "list") for q in items[:10]])

    def h_queries_tags(self, request: Request, caller: Caller) -> Response:
        self._require_user(caller)
        counts: dict[str, int] = {}
        for query in self.store.all("queries"):
            if not query["is_archived"]:
                for tag in query.get("tags") or []:
                    counts[tag] = counts.get(tag, 0) + 1
        tags = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        return json_response({"tags": [{"name": n, "count": c} for n, c in tags]})

    def h_queries_search(self, request: Request, caller: Caller) -> Response:
        self._require_user(caller)
        term = request.args.get("q", "")
        if not term:
            return json_response([])
        args = [(k, v) for k, v in request.args.items(multi=True) if k != "api_key"]
        args += [("org_slug", "default"), ("drafts", "false")]
        return json_response({}, 301, {"Location": "/api/queries?" + urlencode(args)})

    # -- single query -----------------------------------------------------------------------
    def h_query_create(self, request: Request, caller: Caller) -> Response:
        user = self._require_user(caller)
        if user.get("view_only"):
            raise abort(403, "You don't have permission to create queries.")
        body = self._body(request)
        if not isinstance(body, dict):
            raise ValueError("a JSON object is required")
        ds_id = body["data_source_id"]  # KeyError → 500, as upstream
        sql = body["query"]
        try:
            self.data_source(int(ds_id))
        except KeyError:
            raise abort(404, NOT_FOUND) from None
        query = self.create_query(
            sql,
            int(ds_id),
            user=user,
            name=body.get("name") or "New Query",
            description=body.get("description"),
            options=body.get("options") or {},
            tags=body.get("tags") or [],
            schedule=body.get("schedule"),
        )
        return json_response(self._query_json(query, caller, "single"))

    def h_query_get(self, request: Request, caller: Caller, query_id: str) -> Response:
        query = self._get_query(query_id)
        return json_response(self._query_json(query, caller, "single"))

    def h_query_edit(self, request: Request, caller: Caller, query_id: str) -> Response:
        query = self._get_query(query_id)
        user = self._require_editor(caller, query["user_id"])
        body = self._body(request)
        if not isinstance(body, dict):
            raise abort(400, "Failed to decode JSON object")
        query = self.update_query(query, body, user)
        return json_response(self._query_json(query, caller, "single"))

    def h_query_archive(self, request: Request, caller: Caller, query_id: str) -> Response:
        query = self._get_query(query_id)
        self._require_editor(caller, query["user_id"])
        self.archive_query(query)
        return json_response(None)

    # -- execution --------------------------------------------------------------------------
    def _max_age(self, body: dict[str, Any]) -> int:
        max_age = body.get("max_age", -1)
        return -1 if max_age is None else int(max_age)  # int("x") → 500, as upstream

    def _run(
        self,
        caller: Caller,
        *,
        template: str,
        definitions: list[dict[str, Any]] | None,
        values: dict[str, Any],
        data_source: dict[str, Any] | None,
        query_id: int | None,
        apply_auto_limit: bool,
        max_age: int,
    ) -> Response:
        """``run_query`` of redash/handlers/query_results.py."""
        if data_source is None:
            raise job_error(401, "Target data source not available.")
        if data_source.get("paused"):
            reason = data_source.get("pause_reason")
            suffix = f" ({reason})" if reason else ""
            raise job_error(400, f"{data_source['name']} is paused{suffix}. Please try later.")
        if not isinstance(values, dict):
            values = {}
        if definitions:  # no definitions (ad-hoc, or none saved): any names, no validation
            try:
                _params.validate(definitions, values, self.dropdown_values)
            except _params.InvalidParameters as exc:
                raise abort(400, str(exc)) from None
            except _params.DetachedDropdown as exc:
                raise abort(400, exc.message) from None
        values = dict(values)
        _params.join_multi_values(definitions or [], values)
        missing = _params.missing(template, values)
        if missing:
            raise job_error(400, "Missing parameter value for: " + ", ".join(missing))
        sql = _params.render(template, values)
        if apply_auto_limit and not re.search(r"\blimit\s+\d+\s*;?\s*$", sql, re.IGNORECASE):
            sql = sql.rstrip().rstrip(";") + " LIMIT 1000"
        digest = _params.query_hash(sql)
        result = None
        if max_age != 0:
            result = self.store.latest_result(int(data_source["id"]), digest, max_age)
        if result is not None:
            return self._result_response(result, trimmed=caller.is_api, wrap=True)
        job, created = self.jobs.enqueue(sql, data_source, digest, query_id)
        if created:
            self.counters.count_execution()
        return json_response({"job": job.to_json()})

    def h_query_execute(self, request: Request, caller: Caller, query_id: str) -> Response:
        query = self._get_query(query_id)
        body = self._body(request)
        if not isinstance(body, dict):
            body = {}
        max_age = self._max_age(body)
        self._check_can_execute(caller, query)
        definitions = (query.get("options") or {}).get("parameters") or []
        auto_limit = body.get(
            "apply_auto_limit", (query.get("options") or {}).get("apply_auto_limit", False)
        )
        return self._run(
            caller,
            template=query["query"],
            definitions=definitions,
            values=body.get("parameters") or {},
            data_source=self.store.get("data_sources", query["data_source_id"]),
            query_id=query["id"],
            apply_auto_limit=bool(auto_limit),
            max_age=max_age,
        )

    def _check_can_execute(self, caller: Caller, query: dict[str, Any]) -> None:
        if caller.is_api:
            if not query["is_safe"]:
                raise job_error(403, UNSAFE_SHARED)
            return
        user = self._require_user(caller)
        if user.get("view_only") and not query["is_safe"]:
            raise job_error(403, UNSAFE_VIEW_ONLY)

    def h_query_refresh(self, request: Request, caller: Caller, query_id: str) -> Response:
        if caller.is_api:
            raise abort(403, "Please use a user API key.")
        query = self._get_query(query_id)
        self._check_can_execute(caller, query)
        values = {k[2:]: v for k, v in request.args.items() if k.startswith("p_")}
        return self._run(
            caller,
            template=query["query"],
            definitions=(query.get("options") or {}).get("parameters") or [],
            values=values,
            data_source=self.store.get("data_sources", query["data_source_id"]),
            query_id=query["id"],
            apply_auto_limit=False,
            max_age=0,
        )

    def h_adhoc_execute(self, request: Request, caller: Caller) -> Response:
        user = self._require_user(caller)
        body = self._body(request)
        if not isinstance(body, dict):
            body = {}
        sql = body["query"]  # KeyError → 500, as upstream
        max_age = self._max_age(body)
        ds_id = body.get("data_source_id")
        if ds_id is None:
            raise job_error(401, "Please select data source to run this query.")
        source = self.store.get("data_sources", _int(ds_id))
        if source is None:
            raise RuntimeError("unknown data source")  # → 500, as upstream
        if user.get("view_only"):
            raise job_error(403, NO_PERMISSION)
        values = body.get("parameters")
        if values is None:
            values = {k[2:]: v for k, v in request.args.items() if k.startswith("p_")}
        query_id = body.get("query_id")
        return self._run(
            caller,
            template=sql,
            definitions=None,
            values=values,
            data_source=source,
            query_id=query_id if isinstance(query_id, int) else None,
            apply_auto_limit=bool(body.get("apply_auto_limit", False)),
            max_age=max_age,
        )

    # -- reading results --------------------------------------------------------------------
    def _result_response(
        self,
        result: StoredResult,
        *,
        trimmed: bool = False,
        wrap: bool = False,
        ext: str = "json",
        query: dict[str, Any] | None = None,
        attachment: bool = False,
        cache_control: bool = False,
    ) -> Response:
        headers: dict[str, str] = {}
        per_request = self.serialize == SERIALIZE_PER_REQUEST
        if ext == "json" and per_request:
            body = S.result_json_rendered(result, trimmed=trimmed)
        elif ext == "json":
            body, size = S.result_json(result, trimmed=trimmed)
            headers["Content-Length"] = str(size)
        elif ext in ("csv", "tsv"):
            date_format, time_format = self.date_formats()
            body = S.result_dsv(
                result,
                delimiter="," if ext == "csv" else "\t",
                date_format=date_format,
                time_format=time_format,
            )
            if per_request:
                body = b"".join(body)  # the whole text first, as Redash's handler does
        else:
            raise ValueError(f"unknown extension {ext!r}")  # → 500, as upstream
        response = Response(body, content_type=_CONTENT_TYPES[ext], headers=headers)
        if attachment:
            response.headers.set(
                "Content-Disposition", "attachment", **S.download_filename(result, query, ext)
            )
        if cache_control:
            response.headers["Cache-Control"] = "private,max-age=31557600"
        return response

    def h_query_result(
        self,
        request: Request,
        caller: Caller,
        query_id: str,
        ext: str | None = None,
        result_id: str | None = None,
    ) -> Response:
        query = self._get_query(query_id)
        _check_extension(ext)
        if result_id is not None:
            result = self._result_of(result_id)
        else:
            latest = query.get("latest_query_data_id")
            result = self.store.get_result(latest) if latest else None
        if result is None:
            raise abort(404, NO_CACHED)
        if caller.is_api and result.query_hash != query["query_hash"]:
            raise abort(404, NO_CACHED)
        return self._result_response(
            result,
            ext=ext or "json",
            query=query,
            attachment=True,
            cache_control=result_id is not None,
        )

    def h_result_get(
        self, request: Request, caller: Caller, result_id: str, ext: str | None = None
    ) -> Response:
        self._require_user(caller)
        _check_extension(ext)
        result = self._result_of(result_id)
        if result is None:
            raise abort(404, NOT_FOUND)
        return self._result_response(result, ext=ext or "json", attachment=True, cache_control=True)

    def h_query_dropdown(self, request: Request, caller: Caller, query_id: str) -> Response:
        query = self._get_query(query_id)
        return json_response(self._dropdown_pairs(query["id"]))

    def h_query_dropdowns(
        self, request: Request, caller: Caller, query_id: str, dropdown_id: str
    ) -> Response:
        query = self._get_query(query_id)
        wanted = _int(dropdown_id)
        definitions = (query.get("options") or {}).get("parameters") or []
        if not any(d.get("type") == "query" and d.get("queryId") == wanted for d in definitions):
            raise abort(403, "You don't have permission to view this resource.")
        return json_response(self._dropdown_pairs(wanted))

    def _dropdown_pairs(self, query_id: int) -> list[dict[str, Any]]:
        try:
            values = self.dropdown_values(query_id)
        except _params.DetachedDropdown as exc:
            raise abort(400, exc.message) from None
        return [{"name": v, "value": v} for v in values]

    # -- jobs -------------------------------------------------------------------------------
    def h_job_get(
        self, request: Request, caller: Caller, job_id: str, query_id: str | None = None
    ) -> Response:
        job = self.jobs.get(job_id)
        if job is None:
            raise LookupError("no such job")  # → 500, as upstream (rq NoSuchJobError)
        return json_response({"job": job.to_json()})

    def h_job_cancel(self, request: Request, caller: Caller, job_id: str) -> Response:
        self._require_user(caller)
        if self.jobs.cancel(job_id) is None:
            raise LookupError("no such job")
        return json_response(None)

    def h_server_error(self, request: Request, caller: Caller, **_: Any) -> Response:
        raise RuntimeError("not supported by the real server either")

    # -- dashboards -------------------------------------------------------------------------
    def _dashboard_json(
        self, dashboard: dict[str, Any], caller: Caller, *, single: bool
    ) -> dict[str, Any]:
        users = self._users()
        owner = users.get(dashboard["user_id"])
        out: dict[str, Any] = {
            "id": dashboard["id"],
            "slug": dashboard["slug"],
            "name": dashboard["name"],
            "user_id": dashboard["user_id"],
            "user": S.user_json(owner, short=True) if owner else None,
            "layout": dashboard.get("layout", []),
            "dashboard_filters_enabled": dashboard.get("dashboard_filters_enabled", False),
            "widgets": None,
            "options": dashboard.get("options", {}),
            "is_archived": dashboard["is_archived"],
            "is_draft": dashboard["is_draft"],
            "tags": dashboard.get("tags", []),
            "updated_at": dashboard["updated_at"],
            "created_at": dashboard["created_at"],
            "version": dashboard["version"],
            "is_favorite": False,
        }
        if single:
            out["widgets"] = [self._widget_json(w, users) for w in dashboard["widgets"]]
            user = caller.user or {}
            out["can_edit"] = bool(user.get("is_admin") or user.get("id") == dashboard["user_id"])
        return out

    def _widget_json(self, widget: dict[str, Any], users: dict[int, Any]) -> dict[str, Any]:
        out = {
            k: widget[k]
            for k in ("id", "width", "options", "dashboard_id", "text", "updated_at", "created_at")
        }
        query = self.store.get("queries", widget["query_id"]) if widget.get("query_id") else None
        if query is not None:
            vis = next(
                (v for v in query["visualizations"] if v["id"] == widget["visualization_id"]),
                None,
            )
            if vis is not None:
                vis_json = S.visualization_json(vis)
                vis_json["query"] = S.query_json(query, users, mode="embedded")
                out["visualization"] = vis_json
        return out

    def _dashboard_sort_keys(self) -> dict[str, Callable[[dict[str, Any]], Any]]:
        return {
            "name": lambda d: d["name"].lower(),
            "created_at": lambda d: d["created_at"],
            "starred_at": lambda d: d["created_at"],
        }

    def _list_dashboards(
        self, request: Request, caller: Caller, predicate: Callable[[dict[str, Any]], bool]
    ) -> Response:
        self._require_user(caller)
        items = [d for d in self.store.all("dashboards") if predicate(d)]
        items = self._filter_and_order(request, items, ("name",), self._dashboard_sort_keys())
        return self._paginate(
            request, items, lambda d: self._dashboard_json(d, caller, single=False)
        )

    def h_dashboards_list(self, request: Request, caller: Caller) -> Response:
        return self._list_dashboards(request, caller, lambda d: not d["is_archived"])

    def h_dashboards_my(self, request: Request, caller: Caller) -> Response:
        user = self._require_user(caller)
        return self._list_dashboards(
            request, caller, lambda d: not d["is_archived"] and d["user_id"] == user["id"]
        )

    def h_dashboards_favorites(self, request: Request, caller: Caller) -> Response:
        return self._list_dashboards(request, caller, lambda d: False)

    def h_dashboards_tags(self, request: Request, caller: Caller) -> Response:
        self._require_user(caller)
        counts: dict[str, int] = {}
        for dashboard in self.store.all("dashboards"):
            if not dashboard["is_archived"]:
                for tag in dashboard.get("tags") or []:
                    counts[tag] = counts.get(tag, 0) + 1
        return json_response({"tags": [{"name": n, "count": c} for n, c in sorted(counts.items())]})

    def _find_dashboard(self, request: Request, key: str) -> dict[str, Any]:
        if self.dashboard_slug_routes or "legacy" in request.args:
            found = [d for d in self.store.all("dashboards") if d["slug"] == key]
            dashboard = found[0] if found else None
        else:
            dashboard = self.store.get("dashboards", _int(key))
        if dashboard is None:
            raise abort(404, NOT_FOUND)
        return dashboard

    def h_dashboard_get(self, request: Request, caller: Caller, dashboard_id: str) -> Response:
        self._require_user(caller)
        dashboard = self._find_dashboard(request, dashboard_id)
        return json_response(self._dashboard_json(dashboard, caller, single=True))

    def h_dashboard_create(self, request: Request, caller: Caller) -> Response:
        user = self._require_user(caller)
        body = self._body(request)
        if not isinstance(body, dict):
            body = {}
        dashboard = self.create_dashboard(body["name"], user=user)
        return json_response(self._dashboard_json(dashboard, caller, single=True))

    def _existing_dashboard(self, dashboard_id: str) -> dict[str, Any]:
        dashboard = self.store.get("dashboards", _int(dashboard_id))
        if dashboard is None:
            raise LookupError("no such dashboard")  # → 500, as upstream
        return dashboard

    def h_dashboard_edit(self, request: Request, caller: Caller, dashboard_id: str) -> Response:
        dashboard = self._existing_dashboard(dashboard_id)
        self._require_editor(caller, dashboard["user_id"])
        body = self._body(request)
        if not isinstance(body, dict):
            body = {}
        if "version" in body and body["version"] != dashboard["version"]:
            raise abort(409, "Conflict")
        for key in (
            "name",
            "layout",
            "tags",
            "is_draft",
            "is_archived",
            "dashboard_filters_enabled",
            "options",
        ):
            if key in body:
                dashboard[key] = body[key]
        if "name" in body:
            dashboard["slug"] = slugify(body["name"])
        dashboard["version"] += 1
        dashboard["updated_at"] = iso_z(utcnow())
        self.store.put("dashboards", dashboard)
        return json_response(self._dashboard_json(dashboard, caller, single=True))

    def h_dashboard_archive(self, request: Request, caller: Caller, dashboard_id: str) -> Response:
        if self.dashboard_slug_routes:
            dashboard = self._find_dashboard(request, dashboard_id)
        else:
            dashboard = self._existing_dashboard(dashboard_id)
        self._require_editor(caller, dashboard["user_id"])
        dashboard["is_archived"] = True
        dashboard["updated_at"] = iso_z(utcnow())
        self.store.put("dashboards", dashboard)
        return json_response(self._dashboard_json(dashboard, caller, single=True))
