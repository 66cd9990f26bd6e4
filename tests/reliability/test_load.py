"""Concurrent reads against the local server: threads and processes reading identical and
different queries for a bounded time — no errors, no deadlocks (every join has a timeout),
bounded memory, one job shared by identical SQL, and frames equal to a sequential read.

The default run has the short version; the long one is a slow test (tests/conftest.py):
``pytest -m slow tests/reliability/test_load.py``, 60 s unless WATCH_LOAD_SECONDS says otherwise.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pytest

from watch_pandas import WatchClient, read_watch_query

NAMES = ("prices", "positions", "markets", "positions_untyped")


def _frame(url: str, key: str, qid: int, max_age: int | None = None) -> pd.DataFrame:
    with WatchClient(url, key, backoff_factor=0) as client:
        frame = read_watch_query(qid, client=client, progress=False, cache=False, max_age=max_age)
    frame.attrs = {}
    return frame


def _hammer(lw, threads: int, seconds: float) -> None:
    expected = {n: _frame(lw.url, lw.admin_key, lw.demo.queries[n]) for n in NAMES}
    deadline = time.monotonic() + seconds
    errors: list[BaseException] = []
    reads = [0]
    lock = threading.Lock()

    def worker(i: int) -> None:
        client = WatchClient(lw.url, lw.admin_key, backoff_factor=0)
        try:
            n = 0
            while time.monotonic() < deadline:
                name = NAMES[(i + n) % len(NAMES)]
                frame = read_watch_query(
                    lw.demo.queries[name], client=client, progress=False, cache=False
                )
                frame.attrs = {}
                pd.testing.assert_frame_equal(frame, expected[name], check_exact=True)
                n += 1
            with lock:
                reads[0] += n
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            client.close()

    tracemalloc.start()
    pool = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(timeout=seconds + 60)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert not [t for t in pool if t.is_alive()], "a reader deadlocked"
    assert errors == []
    assert reads[0] >= threads
    assert peak < 200 * 2**20  # small results: a leak per read would blow past this


def test_32_threads_reading_concurrently(local_watch_demo):
    _hammer(local_watch_demo, threads=32, seconds=3)


def test_identical_fresh_runs_share_one_job(local_watch_demo):
    lw = local_watch_demo
    lw.execution_delay = 0.5  # every reader POSTs while the first job still runs
    qid = lw.demo.queries["prices"]
    with ThreadPoolExecutor(16) as pool:
        futures = [pool.submit(_frame, lw.url, lw.admin_key, qid, 0) for _ in range(16)]
        frames = [f.result(timeout=60) for f in futures]
    assert lw.counters.executions == 1
    assert lw.counters.requests("POST", "/api/queries/<id>/results") == 16
    for frame in frames[1:]:
        pd.testing.assert_frame_equal(frame, frames[0], check_exact=True)


_CHILD = """
import json, sys, time
import pandas as pd
from watch_pandas import WatchClient, read_watch_query
url, key, seconds, *qids = sys.argv[1:]
deadline = time.monotonic() + float(seconds)
seen = []
with WatchClient(url, key, backoff_factor=0) as client:
    while time.monotonic() < deadline:
        for qid in map(int, qids):
            frame = read_watch_query(qid, client=client, progress=False, cache=False)
            frame.attrs = {}
            seen.append([qid, int(pd.util.hash_pandas_object(frame).sum())])
print(json.dumps(seen))
"""


def _digest(frame: pd.DataFrame) -> int:
    return int(pd.util.hash_pandas_object(frame).sum())


def _processes(lw, n: int, seconds: float) -> None:
    qids = [lw.demo.queries[name] for name in NAMES]
    expected = {qid: _digest(_frame(lw.url, lw.admin_key, qid)) for qid in qids}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _CHILD, lw.url, lw.admin_key, str(seconds)]
            + [str(q) for q in qids[i % 2 :] + qids[: i % 2]],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(n)
    ]
    outputs = []
    for proc in procs:
        try:
            out, err = proc.communicate(timeout=seconds + 120)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise AssertionError("a reader process deadlocked") from None
        assert proc.returncode == 0, err[-2000:]
        outputs.append(json.loads(out))
    for seen in outputs:
        assert seen
        for qid, digest in seen:
            assert digest == expected[qid]


def test_4_processes_reading_concurrently(local_watch_demo):
    _processes(local_watch_demo, 4, seconds=2)


@pytest.mark.slow
@pytest.mark.timeout(0)
def test_long_load_run(local_watch_demo):
    seconds = float(os.environ.get("WATCH_LOAD_SECONDS", "60"))
    _hammer(local_watch_demo, threads=32, seconds=seconds)
    _processes(local_watch_demo, 4, seconds=seconds)
