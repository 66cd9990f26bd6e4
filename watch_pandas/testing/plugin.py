"""pytest plugin (entry point ``pytest11: watch_pandas``): local Watch server fixtures.

* ``local_watch`` — a fresh, empty ``LocalWatch`` per test (add data sources, queries, ...).
* ``local_watch_demo`` — one server with the DeFi demo loaded, shared by the whole session
  (read-mostly). Before each test its counters, armed faults, query failures, held jobs and
  date formats are reset, so tests do not see each other's switches.
* ``local_watch_factory`` — ``local_watch_factory(execution_delay=0.2, ...)`` starts a server
  with custom options; every server it made is stopped after the test.

Example::

    def test_reads(local_watch_demo):
        import requests
        qid = local_watch_demo.demo.queries["prices"]
        r = requests.get(f"{local_watch_demo.url}/api/queries/{qid}/results.json",
                         headers={"Authorization": f"Key {local_watch_demo.admin_key}"})
        assert r.status_code == 200
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

# The server is imported inside the fixtures: pytest loads this plugin in every run wherever
# watch-pandas is installed, and most runs never start a server (nor have the server extra).
if TYPE_CHECKING:
    from ._server import LocalWatch


@pytest.fixture
def local_watch() -> Iterator[LocalWatch]:
    """A fresh, empty local Watch server for one test."""
    from . import LocalWatch

    with LocalWatch() as lw:
        yield lw


@pytest.fixture
def local_watch_factory() -> Iterator[Callable[..., LocalWatch]]:
    """Start local Watch servers with custom ``LocalWatch(...)`` options; all stop afterwards."""
    from . import LocalWatch

    started: list[LocalWatch] = []

    def make(**options: Any) -> LocalWatch:
        lw = LocalWatch(**options).start()
        started.append(lw)
        return lw

    yield make
    for lw in reversed(started):
        lw.stop()


@pytest.fixture(scope="session")
def _local_watch_demo_session() -> Iterator[LocalWatch]:
    from . import LocalWatch

    with LocalWatch(demo=True) as lw:
        yield lw


@pytest.fixture
def local_watch_demo(_local_watch_demo_session: LocalWatch) -> Iterator[LocalWatch]:
    """The session's demo server, with per-test switches reset."""
    lw = _local_watch_demo_session
    lw.faults.clear()
    lw.clear_failures()
    lw.release_jobs()
    lw.execution_delay = 0.0
    lw.set_date_format("DD/MM/YY", "HH:mm")
    lw.counters.reset()
    yield lw
    lw.faults.clear()
    lw.clear_failures()
    lw.release_jobs()
