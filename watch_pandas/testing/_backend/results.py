"""Stored results: seeding, "latest result" of saved queries, and dropdown values from them."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from .. import _engine, _params
from .._store import StoredResult
from .data_sources import DataSources


class Results(DataSources):
    """Stored results and which one is the latest of each saved query."""

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
        """The values a query-based dropdown accepts (its options' values)."""
        return [option["value"] for option in self.dropdown_options(query_id)]

    def dropdown_options(self, query_id: int) -> list[dict[str, Any]]:
        """A query-based dropdown's ``{name, value}`` options, from its latest result."""
        query = self.store.get("queries", query_id)
        if query is None or not query.get("data_source_id"):
            raise _params.DetachedDropdown()
        result_id = query.get("latest_query_data_id")
        result = self.store.get_result(result_id) if result_id else None
        if result is None:
            return []
        with open(result.rows_path, "rb") as fh:
            rows = list(_engine.iter_rows(fh))
        return _params.dropdown_options_from_result(result.columns, rows)
