"""Dataclasses for the objects the Watch API sends (docs/protocol.md#queries, #jobs, #results).

Each model keeps the fields a notebook user needs, typed, plus ``raw`` (the JSON object as the
server sent it) so nothing the server said is lost. ``api_key`` fields are kept out of reprs.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from . import _constants as C

__all__ = [
    "JobStatus",
    "Job",
    "Column",
    "ResultMeta",
    "Query",
    "Visualization",
    "DataSource",
    "SchemaTable",
    "SchemaColumn",
    "Dashboard",
    "Widget",
    "Page",
]


class JobStatus(enum.IntEnum):
    """Job states (docs/protocol.md#jobs); 5-7 exist only on newer servers."""

    QUEUED = C.JOB_QUEUED
    STARTED = C.JOB_STARTED
    FINISHED = C.JOB_FINISHED
    FAILED = C.JOB_FAILED
    CANCELED = C.JOB_CANCELED
    DEFERRED = C.JOB_DEFERRED
    SCHEDULED = C.JOB_SCHEDULED

    @property
    def is_waiting(self) -> bool:
        """Not started yet (queued, deferred, scheduled: 6/7 count as waiting)."""
        return self in (JobStatus.QUEUED, JobStatus.DEFERRED, JobStatus.SCHEDULED)

    @property
    def is_terminal(self) -> bool:
        return self in (JobStatus.FINISHED, JobStatus.FAILED, JobStatus.CANCELED)


# Error texts the server uses for a cancelled job (v9+ and v8).
CANCELLED_MESSAGES = ("Query cancelled by user.", "Query execution cancelled.")


@dataclass(frozen=True)
class Job:
    """An execution job: ``{"job": {...}}``."""

    id: str
    status: JobStatus
    error: str = ""
    query_result_id: int | None = None
    updated_at: str | int | None = None
    # a job that is not a query run (a schema refresh) finishes with a value here
    # (docs/protocol.md#schema); for query runs it is the result id again
    result: Any = field(default=None, repr=False, compare=False)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Job:
        raw_status = obj.get("status")
        try:
            status = JobStatus(int(raw_status))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            from .errors import ServerError

            raise ServerError(
                f"The server sent a job with an unknown status {raw_status!r}."
            ) from None
        result_id = obj.get("query_result_id")
        if result_id is None:
            result_id = obj.get("result")
        error = obj.get("error") or ""
        if isinstance(error, dict):  # {code, message}: docs/protocol.md#schema
            error = str(error.get("message") or error)
        return cls(
            id=str(obj.get("id") or ""),
            status=status,
            error=str(error),
            query_result_id=int(result_id) if isinstance(result_id, int) else None,
            updated_at=obj.get("updated_at"),
            result=obj.get("result"),
        )

    @property
    def is_cancelled(self) -> bool:
        """Cancelled: status 5, or status 4 with the server's cancel message."""
        return self.status == JobStatus.CANCELED or (
            self.status == JobStatus.FAILED and self.error in CANCELLED_MESSAGES
        )


@dataclass(frozen=True)
class Column:
    """A result column: ``type`` is one of ``_constants.COLUMN_TYPES`` or ``None``."""

    name: str
    type: str | None = None
    friendly_name: str | None = None

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Column:
        return cls(
            name=str(obj["name"]), type=obj.get("type"), friendly_name=obj.get("friendly_name")
        )


@dataclass(frozen=True)
class ResultMeta:
    """Everything about a query result except its rows.

    A result returned inline to a query key is trimmed
    (docs/protocol.md#running-a-saved-query): then ``id``, ``query_hash``, ``query``,
    ``data_source_id`` and ``runtime`` are ``None``.
    """

    columns: tuple[Column, ...]
    id: int | None = None
    query_hash: str | None = None
    query: str | None = None
    data_source_id: int | None = None
    runtime: float | None = None
    retrieved_at: str | None = None

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> ResultMeta:
        """From a ``query_result`` object (its ``data.rows`` are ignored)."""
        data = obj.get("data") or {}
        return cls(
            columns=tuple(Column.from_json(c) for c in data.get("columns") or ()),
            id=obj.get("id"),
            query_hash=obj.get("query_hash"),
            query=obj.get("query"),
            data_source_id=obj.get("data_source_id"),
            runtime=obj.get("runtime"),
            retrieved_at=obj.get("retrieved_at"),
        )


@dataclass(frozen=True)
class Visualization:
    """A saved visualization (docs/protocol.md#visualizations): ``type`` is the web UI's kind
    (``CHART``, ``COUNTER``, ``TABLE``, ``PIVOT``, ...), ``options`` what its editor saved.

    ``query_id`` is the query it draws: taken from an embedded ``query`` (a widget's
    visualization), an explicit ``query_id``, or given by the caller (a query's own list and
    the create/edit answers do not name it).
    """

    id: int
    type: str
    name: str
    description: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    query_id: int | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, obj: dict[str, Any], query_id: int | None = None) -> Visualization:
        embedded = obj.get("query")
        if isinstance(embedded, dict) and embedded.get("id") is not None:
            query_id = int(embedded["id"])
        elif obj.get("query_id") is not None:
            query_id = int(obj["query_id"])
        options = obj.get("options")
        return cls(
            id=int(obj["id"]),
            type=str(obj.get("type") or "").upper(),
            name=obj.get("name") or "",
            description=obj.get("description") or "",
            options=options if isinstance(options, dict) else {},
            query_id=query_id,
            raw=obj,
        )


@dataclass(frozen=True)
class Query:
    """A saved query (docs/protocol.md#queries)."""

    id: int
    name: str
    query: str
    data_source_id: int | None
    parameters: tuple[dict[str, Any], ...]
    is_draft: bool = False
    is_archived: bool = False
    is_safe: bool = True
    version: int | None = None
    tags: tuple[str, ...] = ()
    description: str | None = None
    latest_query_data_id: int | None = None
    query_hash: str | None = None
    created_at: str | None = None
    api_key: str | None = field(default=None, repr=False)
    # In the server's order (not by id); only GET /api/queries/<id> sends them.
    visualizations: tuple[Visualization, ...] = field(default=(), repr=False)
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Query:
        options = obj.get("options") or {}
        query_id = int(obj["id"])
        return cls(
            id=query_id,
            name=obj.get("name") or "",
            query=obj.get("query") or "",
            data_source_id=obj.get("data_source_id"),
            parameters=tuple(options.get("parameters") or ()),
            is_draft=bool(obj.get("is_draft", False)),
            is_archived=bool(obj.get("is_archived", False)),
            is_safe=bool(obj.get("is_safe", True)),
            version=obj.get("version"),
            tags=tuple(obj.get("tags") or ()),
            description=obj.get("description"),
            latest_query_data_id=obj.get("latest_query_data_id"),
            query_hash=obj.get("query_hash"),
            created_at=obj.get("created_at"),
            api_key=obj.get("api_key"),
            visualizations=tuple(
                Visualization.from_json(v, query_id=query_id)
                for v in obj.get("visualizations") or ()
                if isinstance(v, dict)
            ),
            raw=obj,
        )


@dataclass(frozen=True)
class SchemaColumn:
    """A column of a data source's schema; ``type`` is the database's own type name
    (``"double precision"``, ``"jsonb"``…) or ``None`` when the server gives none."""

    name: str
    type: str | None = None

    @classmethod
    def from_json(cls, obj: Any) -> SchemaColumn:
        if isinstance(obj, str):
            return cls(name=obj)
        return cls(name=str(obj["name"]), type=obj.get("type"))


@dataclass(frozen=True)
class SchemaTable:
    """A table (or view) of a data source's schema with its columns."""

    name: str
    columns: tuple[SchemaColumn, ...] = ()

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> SchemaTable:
        return cls(
            name=str(obj["name"]),
            columns=tuple(SchemaColumn.from_json(c) for c in obj.get("columns") or ()),
        )


@dataclass(frozen=True)
class DataSource:
    """A data source as listed by ``GET /api/data_sources``."""

    id: int
    name: str
    type: str
    syntax: str = "sql"
    paused: bool = False
    pause_reason: str | None = None
    view_only: bool = False
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> DataSource:
        return cls(
            id=int(obj["id"]),
            name=obj.get("name") or "",
            type=obj.get("type") or "",
            syntax=obj.get("syntax") or "sql",
            paused=bool(obj.get("paused")),
            pause_reason=obj.get("pause_reason"),
            view_only=bool(obj.get("view_only", False)),
            raw=obj,
        )


@dataclass(frozen=True)
class Widget:
    """A dashboard widget; ``query`` is ``None`` for text widgets and restricted ones."""

    id: int
    title: str
    query: Query | None
    visualization_name: str | None = None
    text: str = ""
    restricted: bool = False
    parameter_mappings: dict[str, Any] = field(default_factory=dict, repr=False)
    visualization: Visualization | None = field(default=None, repr=False)
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Widget:
        viz = obj.get("visualization") or None
        query = Query.from_json(viz["query"]) if viz and viz.get("query") else None
        options = obj.get("options") or {}
        viz_name = viz.get("name") if viz else None
        # The web UI titles a widget by its query name (text widgets have none).
        title = query.name if query else (obj.get("text") or f"widget {obj.get('id')}")
        return cls(
            id=int(obj["id"]),
            title=title,
            query=query,
            visualization_name=viz_name,
            text=obj.get("text") or "",
            restricted=bool(obj.get("restricted", False)),
            parameter_mappings=options.get("parameterMappings") or {},
            visualization=Visualization.from_json(viz) if viz and "id" in viz else None,
            raw=obj,
        )


@dataclass(frozen=True)
class Dashboard:
    """A dashboard; ``widgets`` is empty in list items (the server sends ``null`` there)."""

    id: int
    slug: str
    name: str
    widgets: tuple[Widget, ...] = ()
    is_draft: bool = False
    is_archived: bool = False
    version: int | None = None
    tags: tuple[str, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Dashboard:
        return cls(
            id=int(obj["id"]),
            slug=obj.get("slug") or "",
            name=obj.get("name") or "",
            widgets=tuple(Widget.from_json(w) for w in obj.get("widgets") or ()),
            is_draft=bool(obj.get("is_draft", False)),
            is_archived=bool(obj.get("is_archived", False)),
            version=obj.get("version"),
            tags=tuple(obj.get("tags") or ()),
            raw=obj,
        )


@dataclass(frozen=True)
class Page:
    """One page of a paginated listing (docs/protocol.md#pagination)."""

    count: int
    page: int
    page_size: int
    results: list[dict[str, Any]]

    @property
    def last_page(self) -> int:
        return max(1, -(-self.count // self.page_size)) if self.page_size else 1
