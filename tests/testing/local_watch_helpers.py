"""Helpers for the local server's tests: real HTTP with ``requests`` against 127.0.0.1."""

from __future__ import annotations

import time
from typing import Any

import requests

from watch_pandas.testing import LocalWatch

# The table behind the recorded "demo ..." queries (tests/samples/), rebuilt so the
# recorded bodies can be compared with ours.
DEMO_TABLE = """
CREATE TABLE demo (id INTEGER, price REAL, flag INTEGER, d TEXT, ts TEXT, label TEXT,
                   maybe_null INTEGER, big_text TEXT, big_int INTEGER);
"""
LABELS = [
    "comma, separated, value",
    'has "double" quotes',
    "has 'single' quotes",
    "multi\nline\ntext",
    "unicode: ünïcödé 日本語 🚀 € —",
    "plain",
]


def call(
    lw: LocalWatch,
    method: str,
    path: str,
    key: str | None = "admin",
    *,
    header: str = "Key",
    **kwargs: Any,
) -> requests.Response:
    """One request; ``key="admin"`` uses the admin key, ``None`` sends none."""
    headers = dict(kwargs.pop("headers", {}) or {})
    if key == "admin":
        key = lw.admin_key
    if key is not None:
        headers["Authorization"] = f"{header} {key}".strip()
    kwargs.setdefault("timeout", 30)
    kwargs.setdefault("allow_redirects", False)
    return requests.request(method, lw.url + path, headers=headers, **kwargs)


def wait_job(lw: LocalWatch, job_id: str, key: str | None = "admin", path: str | None = None):
    """Poll a job until it is finished or failed; returns the job object."""
    path = path or f"/api/jobs/{job_id}"
    for _ in range(600):
        job = call(lw, "GET", path, key).json()["job"]
        if job["status"] in (3, 4):
            return job
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} did not finish: {job}")


def run_saved(lw: LocalWatch, query_id: int, parameters: dict | None = None, key="admin"):
    """POST results with max_age 0, wait for the job, return the finished job object."""
    body: dict[str, Any] = {"max_age": 0}
    if parameters is not None:
        body["parameters"] = parameters
    reply = call(lw, "POST", f"/api/queries/{query_id}/results", key, json=body)
    assert reply.status_code == 200, reply.text
    job = reply.json()["job"]
    return wait_job(lw, job["id"], key, path=f"/api/queries/{query_id}/jobs/{job['id']}")


def fill_demo_table(lw: LocalWatch, ds: int, rows: int = 30) -> None:
    """The recorded server's ``demo`` table: same formulas for the first rows of sample 30."""
    values = []
    for i in range(1, rows + 1):
        price = round((79.19 - (i - 1) * 20.81) % 100, 2)
        label = f"item {i}: {LABELS[(i - 1) % len(LABELS)]}"
        maybe = "NULL" if i % 4 == 0 else str(i * 10)
        big = 9007199254740993 if i % 2 else 9223372036854775807
        day = f"2024-01-{i + 1:02d}" if i < 31 else f"2024-02-{i - 30:02d}"
        ts = f"2024-01-01 {8 + i:02d}:30:{15 + 2 * i:02d}" if i < 16 else "2024-01-02 00:00:00"
        label_sql = label.replace("'", "''")
        values.append(
            f"({i}, {price}, {int(i % 3 == 0)}, '{day}', '{ts}', '{label_sql}', {maybe},"
            f" '123456789012345678901234', {big})"
        )
    lw.execute_sql(ds, DEMO_TABLE + "INSERT INTO demo VALUES " + ",\n".join(values) + ";")
