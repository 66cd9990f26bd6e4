"""The local server's own state: a small SQLite database of JSON documents plus result files.

Users, data sources, queries (with their visualizations) and dashboards (with their widgets) are
stored as JSON documents keyed by kind and id. Query results keep their metadata in a table and
their rows in a file of one JSON object per line, so a large result is stored once and streamed.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    kind TEXT NOT NULL, id INTEGER NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (kind, id));
CREATE TABLE IF NOT EXISTS sequences (kind TEXT PRIMARY KEY, last INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS results (
    id INTEGER PRIMARY KEY AUTOINCREMENT, data_source_id INTEGER NOT NULL,
    query_hash TEXT NOT NULL, query TEXT NOT NULL, columns TEXT NOT NULL,
    row_count INTEGER NOT NULL, runtime REAL NOT NULL, retrieved_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS results_lookup ON results (data_source_id, query_hash, id);
"""


def utcnow() -> dt.datetime:
    """Naive UTC now (how the server stores times)."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def iso_z(value: dt.datetime) -> str:
    """Object timestamps as Redash writes them: ``2026-11-28T00:14:42.272Z``."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


@dataclass(frozen=True)
class StoredResult:
    """A query result's metadata; rows live in ``rows_path``."""

    id: int
    data_source_id: int
    query_hash: str
    query: str
    columns: list[dict[str, Any]]
    row_count: int
    runtime: float
    retrieved_at: dt.datetime
    rows_path: Path


class Store:
    """Thread-safe document store in one SQLite file, result rows as files beside it."""

    def __init__(self, db_path: Path, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.results_dir = data_dir / "results"
        self.sources_dir = data_dir / "data_sources"
        self.results_dir.mkdir(parents=True, exist_ok=True)
        self.sources_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(str(db_path), check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- documents -------------------------------------------------------------------------
    def next_id(self, kind: str) -> int:
        with self._lock:
            row = self._conn.execute("SELECT last FROM sequences WHERE kind=?", (kind,)).fetchone()
            new = (row[0] if row else 0) + 1
            self._conn.execute(
                "INSERT OR REPLACE INTO sequences (kind, last) VALUES (?, ?)", (kind, new)
            )
            return new

    def get(self, kind: str, id_: int) -> dict[str, Any] | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT doc FROM documents WHERE kind=? AND id=?", (kind, id_)
            ).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, kind: str, doc: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO documents (kind, id, doc) VALUES (?, ?, ?)",
                (kind, doc["id"], json.dumps(doc)),
            )
        return doc

    def all(self, kind: str) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT doc FROM documents WHERE kind=? ORDER BY id", (kind,)
            ).fetchall()
        return [json.loads(r[0]) for r in rows]

    def setting(self, key: str, default: str | None = None) -> str | None:
        with self._lock:
            row = self._conn.execute("SELECT value FROM settings WHERE key=?", (key,)).fetchone()
        return row[0] if row else default

    def set_setting(self, key: str, value: str) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)", (key, value)
            )

    # -- results ---------------------------------------------------------------------------
    def add_result(
        self,
        *,
        data_source_id: int,
        query_hash: str,
        query: str,
        columns: list[dict[str, Any]],
        row_count: int,
        runtime: float,
        rows_file: Path,
        retrieved_at: dt.datetime | None = None,
    ) -> StoredResult:
        """Record a finished run; ``rows_file`` is moved under the results directory."""
        retrieved_at = retrieved_at or utcnow()
        with self._lock:
            cur = self._conn.execute(
                "INSERT INTO results (data_source_id, query_hash, query, columns, row_count,"
                " runtime, retrieved_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    data_source_id,
                    query_hash,
                    query,
                    json.dumps(columns),
                    row_count,
                    runtime,
                    retrieved_at.isoformat(),
                ),
            )
            assert cur.lastrowid is not None  # an INSERT always sets it
            result_id = int(cur.lastrowid)
            os.replace(rows_file, self._rows_path(result_id))
        result = self.get_result(result_id)
        assert result is not None
        return result

    def _rows_path(self, result_id: int) -> Path:
        return self.results_dir / f"{result_id}.jsonl"

    def _result(self, row: tuple) -> StoredResult:
        return StoredResult(
            id=row[0],
            data_source_id=row[1],
            query_hash=row[2],
            query=row[3],
            columns=json.loads(row[4]),
            row_count=row[5],
            runtime=row[6],
            retrieved_at=dt.datetime.fromisoformat(row[7]),
            rows_path=self._rows_path(row[0]),
        )

    _COLUMNS = "id, data_source_id, query_hash, query, columns, row_count, runtime, retrieved_at"

    def get_result(self, result_id: int) -> StoredResult | None:
        with self._lock:
            row = self._conn.execute(
                f"SELECT {self._COLUMNS} FROM results WHERE id=?", (result_id,)
            ).fetchone()
        return self._result(row) if row else None

    def latest_result(
        self, data_source_id: int, query_hash: str, max_age: int = -1
    ) -> StoredResult | None:
        """Newest result for (data source, hash); ``max_age`` -1 = any age, N = within N s."""
        sql = f"SELECT {self._COLUMNS} FROM results WHERE data_source_id=? AND query_hash=?"
        args: list[Any] = [data_source_id, query_hash]
        if max_age >= 0:
            sql += " AND retrieved_at >= ?"
            args.append((utcnow() - dt.timedelta(seconds=max_age)).isoformat())
        sql += " ORDER BY retrieved_at DESC, id DESC LIMIT 1"
        with self._lock:
            row = self._conn.execute(sql, args).fetchone()
        return self._result(row) if row else None
