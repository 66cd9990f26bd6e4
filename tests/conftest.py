"""Shared fixtures: the recorded real-server samples (copied into tests/samples/)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

SAMPLES_DIR = Path(__file__).parent / "samples"


def load_sample(name: str) -> dict[str, Any]:
    """One recorded exchange by file name, ``.json`` optional (e.g. ``"01-auth-bad-key"``)."""
    path = SAMPLES_DIR / (name if name.endswith(".json") else f"{name}.json")
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture
def sample() -> Callable[[str], dict[str, Any]]:
    """Loader of recorded exchanges: ``sample("18-params-missing")["body"]``."""
    return load_sample


@pytest.fixture(autouse=True)
def _isolated_watch_cache(tmp_path, monkeypatch):
    """Every test gets its own local result cache; none touches the user's real one."""
    monkeypatch.setenv("WATCH_CACHE_DIR", str(tmp_path / "watch-cache"))
    monkeypatch.delenv("WATCH_OFFLINE", raising=False)


DEMO_ROWS = """
CREATE TABLE demo (id INTEGER, price REAL, flag INTEGER, d TEXT, ts TEXT, label TEXT);
INSERT INTO demo VALUES
  (1, 5.0, 1, '2024-03-01', '2024-03-01 10:00:00', 'item-a'),
  (2, 25.0, 1, '2024-03-06', '2024-03-06 10:00:00', 'item-b'),
  (3, 40.0, 0, '2024-03-09', '2024-03-09 10:00:00', 'other');
"""


@pytest.fixture(scope="module")
def demo_params_server():
    """A local Watch server: data source ``db`` (``.source_id``) with a ``demo`` table, and the
    recorded 06-query-demo-params query saved on it (``.demo_query``). One per test module."""
    from watch_pandas.testing import LocalWatch

    with LocalWatch() as watch:
        watch.source_id = watch.add_data_source("db")
        watch.execute_sql(watch.source_id, DEMO_ROWS)
        recorded = load_sample("06-query-demo-params")["body"]
        watch.demo_query = watch.add_query(
            recorded["query"],
            data_source_id=watch.source_id,
            name=recorded["name"],
            parameters=recorded["options"]["parameters"],
        )
        yield watch
