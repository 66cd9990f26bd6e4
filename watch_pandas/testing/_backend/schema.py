"""Data source schemas: a cached table list, refreshed by a job (docs/protocol.md#schema).

As on the real server, a plain read answers the cached schema inline, and any ``refresh``
parameter (or no cache yet) starts a job whose result is the fresh table list, which is then
cached. Untyped sources list plain column names; typed ones ``{name, type}`` with PostgreSQL's
type names; a source created with ``schema=False`` (like a Python data source) has none: its
job fails every time with an error object.
"""

from __future__ import annotations

import json
import re
import sqlite3
from typing import Any

from .. import _engine
from .._jobs import TaskFailed, TaskJob
from .data_sources import DataSources

NOT_SUPPORTED = "Data source type does not support retrieving schema"

# Declared SQLite types → the names PostgreSQL's information_schema reports (first match wins).
_PG_TYPES: tuple[tuple[str, str], ...] = (
    (r"^(BIGNUM|HUGEINT)", "numeric"),
    (r"BIGINT", "bigint"),
    (r"SMALLINT", "smallint"),
    (r"INT", "integer"),
    (r"^BOOL", "boolean"),
    (r"^(TIMESTAMPTZ|TIMESTAMP WITH TIME ZONE)", "timestamp with time zone"),
    (r"^(TIMESTAMP|DATETIME)", "timestamp without time zone"),
    (r"^DATE", "date"),
    (r"DOUB|FLOA|REAL", "double precision"),
    (r"NUMERIC|DECIMAL", "numeric"),
    (r"^JSONB", "jsonb"),
    (r"^JSON", "json"),
    (r"VARCHAR|CHARACTER VARYING", "character varying"),
    (r"CHAR", "character"),
    (r"TEXT|CLOB", "text"),
    (r"^UUID", "uuid"),
    (r"^INTERVAL", "interval"),
    (r"BLOB|BYTEA", "bytea"),
)


def pg_type_name(declared: str) -> str | None:
    """A declared SQLite column type as PostgreSQL would name it (``None`` when undeclared)."""
    word = declared.strip().upper()
    if not word:
        return None
    for pattern, name in _PG_TYPES:
        if re.search(pattern, word):
            return name
    return word.lower()


def read_schema(source: dict[str, Any]) -> list[dict[str, Any]]:
    """Tables and views of ``source``'s database, sorted by name, columns sorted by name."""
    typed = source["type"] == _engine.TYPED_SQLITE
    conn = sqlite3.connect(source["path"])
    try:
        names = [
            row[0]
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')"
                " AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        tables = []
        for name in names:
            info = conn.execute(f'PRAGMA table_info("{name.replace(chr(34), chr(34) * 2)}")')
            columns: list[Any] = []
            for _, column, declared, *_ in sorted(info.fetchall(), key=lambda r: r[1]):
                pg_type = pg_type_name(declared or "") if typed else None
                # a column without a type (a view's expression) is a plain name, as for a
                # PostgreSQL materialized view
                columns.append({"name": column, "type": pg_type} if pg_type else column)
            tables.append({"name": name, "columns": columns})
        return tables
    finally:
        conn.close()


class Schemas(DataSources):
    """The schema route's domain: the cache per data source and the refresh job."""

    def cached_schema(self, ds_id: int) -> list[dict[str, Any]] | None:
        raw = self.store.setting(f"schema:{ds_id}")
        return None if raw is None else json.loads(raw)

    def refresh_schema(self, ds_id: int) -> TaskJob:
        source = self.data_source(ds_id)

        def work() -> list[dict[str, Any]]:
            if not source.get("supports_schema", True):
                raise TaskFailed(1, NOT_SUPPORTED)
            return self._cache_schema(source)

        return self.jobs.submit_task(source, work)

    def refresh_schemas(self) -> None:
        """Cache every source's schema now, as the real server's periodic refresh does:
        paused sources and sources without a schema are skipped (docs/protocol.md#schema)."""
        for source in self.store.all("data_sources"):
            if source.get("supports_schema", True) and not source.get("paused"):
                self._cache_schema(source)

    def _cache_schema(self, source: dict[str, Any]) -> list[dict[str, Any]]:
        tables = read_schema(source)
        self.store.set_setting(f"schema:{source['id']}", json.dumps(tables))
        return tables
