"""Ctrl-C (KeyboardInterrupt) at every stage of a read: the server job is cancelled when one
exists, no partial file is left in the local cache, and the KeyboardInterrupt propagates.

The interrupt is raised from a progress listener at the wanted state, which is exactly where a
real Ctrl-C lands (the main thread between two requests of the poll loop).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from watch_pandas import read_watch_query, run_sql
from watch_pandas._progress import ProgressEvent

JOB = "/api/jobs/<id>"


def _interrupt_at(state: str, *, need_job: bool = True) -> tuple[Callable, list[ProgressEvent]]:
    seen: list[ProgressEvent] = []

    def listener(event: ProgressEvent) -> None:
        seen.append(event)
        if event.state == state and (event.job_id or not need_job):
            raise KeyboardInterrupt

    return listener, seen


def _cache_files() -> list[str]:
    folder = Path(os.environ["WATCH_CACHE_DIR"])
    return sorted(p.name for p in folder.rglob("*")) if folder.exists() else []


def _job(lw, job_id: str) -> dict:
    reply = requests.get(
        f"{lw.url}/api/jobs/{job_id}", headers={"Authorization": f"Key {lw.admin_key}"}, timeout=10
    )
    assert reply.status_code == 200, (reply.status_code, reply.text)
    return reply.json()["job"]


def _read(lw, make_client, progress, **kw):
    return read_watch_query(
        lw.demo.queries["markets"], client=make_client(), max_age=0, progress=progress, **kw
    )


@pytest.mark.parametrize("state", ["queued", "running"])
def test_interrupt_while_waiting_cancels_the_server_job(lw, make_client, state):
    if state == "queued":
        lw.hold_jobs()
    else:
        lw.execution_delay = 0.5  # half a second queued, half a second running
    listener, seen = _interrupt_at(state)
    with pytest.raises(KeyboardInterrupt):
        _read(lw, make_client, listener)
    job_id = next(e.job_id for e in seen if e.state == state and e.job_id)
    assert seen[-1].state == "cancelled"
    assert lw.counters.requests("DELETE", JOB) == 1
    assert _job(lw, job_id)["error"] == "Query cancelled by user."
    assert not [name for name in _cache_files() if not name.endswith(".query.json")]


def test_interrupt_before_any_job_exists_sends_no_cancel(lw, make_client):
    listener, _ = _interrupt_at("queued", need_job=False)
    with pytest.raises(KeyboardInterrupt):
        _read(lw, make_client, listener)
    assert lw.counters.requests("DELETE", JOB) == 0
    assert lw.counters.requests("POST") == 0  # interrupted while submitting: nothing sent
    assert _cache_files() == []


def test_interrupt_while_downloading_leaves_no_cache_entry(lw, make_client):
    listener, seen = _interrupt_at("downloading", need_job=False)
    with pytest.raises(KeyboardInterrupt):
        _read(lw, make_client, listener)
    assert "downloading" in [e.state for e in seen]
    # The job had already finished: nothing to cancel, and no result file was written.
    assert lw.counters.requests("DELETE", JOB) == 0
    assert not [name for name in _cache_files() if name.endswith(".parquet")]
    assert not [name for name in _cache_files() if ".tmp" in name]


def test_interrupt_of_adhoc_sql_cancels_its_job(lw, make_client):
    lw.hold_jobs()
    listener, seen = _interrupt_at("queued")
    with pytest.raises(KeyboardInterrupt):
        run_sql(
            "SELECT 'interrupt me' AS x",
            "demo-typed",
            client=make_client(),
            max_age=0,
            progress=listener,
        )
    job_id = next(e.job_id for e in seen if e.job_id)
    assert _job(lw, job_id)["error"] == "Query cancelled by user."


def test_the_client_works_again_after_an_interrupt(lw, make_client, fresh_read):
    client = make_client()
    lw.hold_jobs()
    listener, _ = _interrupt_at("queued")
    with pytest.raises(KeyboardInterrupt):
        read_watch_query(lw.demo.queries["markets"], client=client, max_age=0, progress=listener)
    lw.release_jobs()
    frame = fresh_read(lw.demo.queries["markets"], client=client)
    assert len(frame) > 0


def test_a_completed_read_after_an_interrupt_is_cached_whole(lw, make_client):
    lw.execution_delay = 0.3
    listener, _ = _interrupt_at("running")
    with pytest.raises(KeyboardInterrupt):
        _read(lw, make_client, listener, cache=True)
    lw.execution_delay = 0.0
    frame = _read(lw, make_client, False, cache=True)
    again = read_watch_query(
        lw.demo.queries["markets"], client=make_client(), progress=False, cache=True
    )
    assert again.attrs["watch"]["source"] == "local cache"
    assert again.drop(columns=[]).equals(frame)
    assert [n for n in _cache_files() if ".tmp" in n] == []
