"""Saved queries: list, read, create, edit, archive, and their dropdown parameter options.

The client remembers what each query it read, created or edited looked like (its
:func:`content`), so that saving over it later can tell whether someone else changed it in
between (:mod:`watch_pandas._client._save`).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .._constants import MAX_PAGE_SIZE
from .._http import wire_model
from ..errors import ConfigError, ServerError
from ..models import Page, Query
from ._args import as_id
from ._base import BaseClient

# What a user edits: a difference here between two reads means someone saved in between.
# Not updated_at or latest_query_data_id, which change without an edit of the query.
_CONTENT = (
    "name",
    "query",
    "data_source_id",
    "options",
    "tags",
    "description",
    "schedule",
    "is_draft",
    "is_archived",
    "version",
)


def query_url(server: str, query_id: int | str) -> str:
    """The human link to query ``query_id`` of ``server`` (a normalised URL) in the web UI."""
    return f"{server}/queries/{as_id(query_id, 'query_id')}"


def content(query: Query) -> str:
    """What a user can change in ``query``, comparable between two reads."""
    return json.dumps({key: query.raw.get(key) for key in _CONTENT}, sort_keys=True, default=str)


class QueriesAPI(BaseClient):
    """``/api/queries``: reading a query also settles an ``"auto"`` key's kind."""

    def _init_state(self) -> None:
        super()._init_state()
        self._seen_lock = threading.Lock()
        # query id → (content, version) as this client last read or saved it; never the
        # query object, which holds the query's API key
        self._seen: dict[int, tuple[str, int | None]] = {}

    def _remember(self, query: Query) -> Query:
        with self._seen_lock:
            self._seen[query.id] = (content(query), query.version)
        return query

    def _last_seen(self, query_id: int) -> tuple[str, int | None] | None:
        """Query ``query_id``'s content and version as this client last read, created or
        edited it, or None (no request)."""
        with self._seen_lock:
            return self._seen.get(query_id)

    def query_url(self, query_id: int | str) -> str:
        """The human link to a query in the web UI (no key)."""
        return query_url(self.url, query_id)

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
        qid = as_id(query_id, "query_id")
        data = self._json("GET", f"queries/{qid}", what=f"query {qid}", query_id=qid)
        query = wire_model(Query.from_json, data, "a query")
        self._record_key_kind(query)
        return self._remember(query)

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
            "data_source_id": as_id(data_source_id, "data_source_id"),
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
        return self._remember(created)

    def edit_query(
        self, query_id: int | str, *, version: int | None = None, **fields: Any
    ) -> Query:
        """Change fields of a saved query (``query=`` is the SQL, ``is_draft=False`` publishes).

        With ``version=`` the server refuses (``ConflictError``) when someone saved in between.
        """
        qid = as_id(query_id, "query_id")
        body = dict(fields)
        if version is not None:
            body["version"] = version
        data = self._json("POST", f"queries/{qid}", body=body, what=f"query {qid}", query_id=qid)
        return self._remember(wire_model(Query.from_json, data, "a query"))

    def archive_query(self, query_id: int | str) -> None:
        """Archive a saved query (``DELETE /api/queries/<id>``)."""
        qid = as_id(query_id, "query_id")
        self._json("DELETE", f"queries/{qid}", what=f"query {qid}", query_id=qid)

    def get_dropdown_options(
        self, query_id: int | str, *, parameter_query_id: int | str | None = None
    ) -> list[dict[str, Any]]:
        """Options of a query-based dropdown parameter: ``[{"name": …, "value": …}, …]``.

        Without ``parameter_query_id`` this is ``/dropdown`` (the query's own values);
        with it, ``/dropdowns/<parameter_query_id>`` (a parameter of ``query_id``).
        """
        qid = as_id(query_id, "query_id")
        path = f"queries/{qid}/dropdown"
        if parameter_query_id is not None:
            path = f"queries/{qid}/dropdowns/{as_id(parameter_query_id, 'parameter_query_id')}"
        data = self._json("GET", path, what=f"dropdown options of query {qid}", query_id=qid)
        if not isinstance(data, list):
            raise ServerError(f"GET /api/{path} did not answer a list of options.", query_id=qid)
        return data
