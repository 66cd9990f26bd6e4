"""Fixtures of the end-to-end tests: the public client against the local server over HTTP.

The demo server (``local_watch_demo``) is shared by the session and read-mostly; tests that
create, edit or count objects use a fresh ``local_watch`` instead. Raw server bodies are read
with plain ``requests`` (not the client), so expectations never come from the code under test.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from watch_pandas import WatchClient, read_watch_query, run_sql
from watch_pandas.testing import LocalWatch


@pytest.fixture
def lw(local_watch_demo: LocalWatch) -> LocalWatch:
    """The session's demo server, switches and counters reset for this test."""
    return local_watch_demo


@pytest.fixture
def client(lw: LocalWatch) -> Iterator[WatchClient]:
    """A client with the demo server's admin (user) key."""
    with WatchClient(lw.url, lw.admin_key) as watch:
        yield watch


@pytest.fixture
def read(lw: LocalWatch) -> Callable[..., Any]:
    """``read_watch_query`` on the demo server with its user key: no progress output and no
    local cache, so every call talks to the server (the local cache has its own tests)."""
    return functools.partial(
        read_watch_query, url=lw.url, api_key=lw.admin_key, progress=False, cache=False
    )


@pytest.fixture
def sql(lw: LocalWatch) -> Callable[..., Any]:
    """``run_sql`` bound to the demo server and its user key, without progress output and
    without the local cache (it has its own tests), so every call talks to the server."""
    return functools.partial(run_sql, url=lw.url, api_key=lw.admin_key, progress=False, cache=False)


@pytest.fixture
def raw_get(lw: LocalWatch) -> Callable[..., requests.Response]:
    """GET ``/api/...`` with plain requests and the admin key (independent of the client)."""

    def get(path: str, key: str | None = None) -> requests.Response:
        return requests.get(
            f"{lw.url}{path}", headers={"Authorization": f"Key {key or lw.admin_key}"}, timeout=30
        )

    return get


@pytest.fixture
def raw_result(raw_get: Callable[..., requests.Response]) -> Callable[[int], dict[str, Any]]:
    """The server's own JSON for a result id: ``{"data": {...}, "query": ..., ...}``."""

    def fetch(result_id: int) -> dict[str, Any]:
        reply = raw_get(f"/api/query_results/{result_id}.json")
        assert reply.status_code == 200, reply.text
        return json.loads(reply.content)["query_result"]

    return fetch
