"""Shared fixtures and the suite's slow-test policy.

Slow tests: ``python -m pytest`` (the README's command) is the default run: every test except
those marked ``@pytest.mark.slow`` (the long load run, the million-row query, the full
benchmark), which are skipped; property tests (Hypothesis) run the example counts that find
the bugs they exist for. ``python -m pytest -m slow`` runs only the slow tests;
``WATCH_SLOW_TESTS=1 python -m pytest`` runs everything, slow tests included, and loads the
Hypothesis profile ``slow``: ten times the examples (``_slow.examples``). One rule decides
(``_slow.wanted``), here, for every test folder.

Helpers importable from any test module (``pythonpath`` in pyproject.toml): ``_samples``
(the recorded real-server exchanges in tests/samples/) and ``_slow``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import _slow
import pytest
from _samples import load_sample

pytest_plugins = ["pytester"]  # tests of the pytest plugin run their own inner sessions


def pytest_configure(config: pytest.Config) -> None:
    _slow.configure(_slow.wanted(config.getoption("markexpr", "") or ""))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip ``slow`` tests unless this is a slow run (see the top of this file)."""
    if _slow.slow_run():
        return
    skip = pytest.mark.skip(reason=f"slow: run with -m slow or {_slow.SLOW_ENV}=1")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


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


@pytest.fixture
def magic_shell(monkeypatch, tmp_path):
    """``magic_shell(server)``: the embedded IPython shell with a fresh WatchMagic pointed at a
    local server (no config file, the server's admin key); reset after the test."""
    from IPython.core.interactiveshell import InteractiveShell

    from watch_pandas import magics

    shell = InteractiveShell.instance()

    def pointed_at(server):
        monkeypatch.setenv("WATCH_CONFIG", str(tmp_path / "no-config.toml"))
        monkeypatch.delenv("WATCH_URL", raising=False)
        monkeypatch.delenv("WATCH_PROFILE", raising=False)
        monkeypatch.setenv("WATCH_API_KEY", server.admin_key)
        shell.config.pop("WatchMagic", None)  # no %config left over from another test
        magics.load_ipython_extension(shell)
        shell.run_line_magic("config", f"WatchMagic.url = {server.url!r}")
        return shell

    yield pointed_at
    shell.config.pop("WatchMagic", None)
    for name in ("frame", "start", "my_params", "ids"):
        shell.user_ns.pop(name, None)
