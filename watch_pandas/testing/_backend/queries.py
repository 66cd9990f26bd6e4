"""Saved queries: create, edit (with version checks), archive."""

from __future__ import annotations

import secrets
from typing import Any

from .. import _params
from .._store import iso_z, utcnow
from .data_sources import DataSources
from .errors import CONFLICT, Refusal
from .users import Users


class Queries(Users, DataSources):
    """Saved queries: their documents, versions and archiving."""

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
            raise Refusal(409, CONFLICT)
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
        # no version bump: Redash maps Query.version without a generator, so a real server
        # keeps it at 1 across edits (docs/protocol.md#queries)
        query["updated_at"] = iso_z(utcnow())
        query["last_modified_by_id"] = user["id"]
        self._query_doc_defaults(query)
        return self.store.put("queries", query)

    def fork_query(self, query: dict[str, Any], user: dict[str, Any]) -> dict[str, Any]:
        """A draft copy owned by ``user``: SQL, options, tags, description, data source, latest
        result and copies of the visualizations; a new id and API key, version 1."""
        now = iso_z(utcnow())
        doc = {
            **query,
            "id": self.store.next_id("queries"),
            "name": f"Copy of (#{query['id']}) {query['name']}",
            "api_key": secrets.token_urlsafe(30),
            "schedule": None,
            "is_archived": False,
            "is_draft": True,
            "created_at": now,
            "updated_at": now,
            "version": 1,
            "user_id": user["id"],
            "last_modified_by_id": user["id"],
            "visualizations": [
                {
                    **vis,
                    "id": self.store.next_id("visualizations"),
                    "created_at": now,
                    "updated_at": now,
                }
                for vis in sorted(query.get("visualizations", []), key=lambda v: v["id"])
            ],
        }
        return self.store.put("queries", self._query_doc_defaults(doc))

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
