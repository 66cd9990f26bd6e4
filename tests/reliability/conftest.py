"""Fixtures of the reliability suite: the public verbs against the local server over real HTTP.

Every client here retries without backoff (``backoff_factor=0``) so a retried fault costs no
sleep; faults, counters and held jobs of the shared demo server are reset around each test by
the ``local_watch_demo`` fixture.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pandas as pd
import pytest

from watch_pandas import WatchClient, read_watch_query, run_sql
from watch_pandas.testing import LocalWatch


@pytest.fixture
def lw(local_watch_demo: LocalWatch) -> LocalWatch:
    """The session's demo server, switches and counters reset for this test."""
    return local_watch_demo


@pytest.fixture
def make_client(lw: LocalWatch) -> Iterator[Callable[..., WatchClient]]:
    """``make_client(timeout=..., retries=...)``: admin-key clients with no retry backoff."""
    made: list[WatchClient] = []

    def make(**options: Any) -> WatchClient:
        options.setdefault("backoff_factor", 0)
        client = WatchClient(lw.url, lw.admin_key, **options)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def fresh_read(make_client: Callable[..., WatchClient]) -> Callable[..., pd.DataFrame]:
    """``fresh_read(query_id, ...)``: read_watch_query, fresh run, no local cache, no progress."""

    def call(query_id: int, params: Any = None, *, client: WatchClient | None = None, **kw: Any):
        kw.setdefault("max_age", 0)
        kw.setdefault("cache", False)
        kw.setdefault("progress", False)
        return read_watch_query(query_id, params, client=client or make_client(), **kw)

    return call


@pytest.fixture
def fresh_sql(make_client: Callable[..., WatchClient]) -> Callable[..., pd.DataFrame]:
    """``fresh_sql(text, data_source, ...)``: run_sql with a fresh run and no progress output."""

    def call(text: str, data_source: int | str = "demo-typed", **kw: Any) -> pd.DataFrame:
        kw.setdefault("max_age", 0)
        kw.setdefault("progress", False)
        kw.setdefault("client", make_client())
        return run_sql(text, data_source, **kw)

    return call


def without_attrs(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy without ``attrs`` (provenance differs between runs; the data must not)."""
    copy = frame.copy()
    copy.attrs = {}
    return copy


@pytest.fixture(scope="session")
def reference_frames() -> dict[str, pd.DataFrame]:
    """Fault-free reads, filled lazily by ``reference``: the expected frame per demo query."""
    return {}


@pytest.fixture
def reference(lw: LocalWatch, fresh_read, reference_frames) -> Callable[[str], pd.DataFrame]:
    """``reference("prices")``: the demo query's frame read once without any fault."""

    def get(name: str) -> pd.DataFrame:
        if name not in reference_frames:
            reference_frames[name] = without_attrs(fresh_read(lw.demo.queries[name]))
            lw.counters.reset()
        return reference_frames[name]

    return get


@pytest.fixture
def frames_equal() -> Callable[[pd.DataFrame, pd.DataFrame], None]:
    def check(got: pd.DataFrame, expected: pd.DataFrame) -> None:
        pd.testing.assert_frame_equal(without_attrs(got), expected, check_exact=True)

    return check
