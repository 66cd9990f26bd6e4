"""Data sources: one SQLite database each, typed (column types like PostgreSQL) or not."""

from __future__ import annotations

from typing import Any

from .. import _engine
from .state import State


class DataSources(State):
    """Data sources and their SQLite databases."""

    def create_data_source(
        self, name: str, *, typed: bool = False, schema: bool = True
    ) -> dict[str, Any]:
        ds_id = self.store.next_id("data_sources")
        source: dict[str, Any] = {
            "id": ds_id,
            "name": name,
            "type": _engine.TYPED_SQLITE if typed else _engine.SQLITE,
            "path": str(self.store.sources_dir / f"{ds_id}.sqlite"),
            "paused": 0,
            "pause_reason": None,
        }
        if not schema:  # like a Python data source: no schema to browse (_backend/schema.py)
            source["supports_schema"] = False
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
