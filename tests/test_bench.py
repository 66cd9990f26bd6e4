"""Smoke test of the side-by-side benchmark: it must run every contender against the local
server and print the table (a small workload by default; ``--quick`` in the slow run). No
timing is asserted here; speed is judged by reading the benchmark's own output."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_bench(data: Path, *options: str) -> str:
    """The benchmark's printed table (its stderr in the failure message)."""
    completed = subprocess.run(
        [sys.executable, "-m", "bench", *options, "--runs", "1", "--data", str(data)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    return completed.stdout


def test_small_bench_prints_the_table(tmp_path: Path) -> None:
    """Every contender and target of the bench's code path, on a small workload (fast)."""
    check_table(run_bench(tmp_path, "--rows", "2000"), "2,000 rows")


@pytest.mark.slow
def test_quick_bench_prints_the_table(tmp_path: Path) -> None:
    """``--quick`` as documented: the 100,000-row smoke run of the benchmark."""
    check_table(run_bench(tmp_path, "--quick"), "100,000 rows")


def check_table(table: str, workload: str) -> None:
    assert workload in table
    assert "serialize='per-request'" in table  # the targets face a Redash-like server
    assert "machine: " in table and "pyarrow" in table
    for label in (
        "download floor: requests POST",
        "READ: frames.read_result on the POST reply",
        "local cache hit",
        "COLD read_watch_query",
        "peer: requests + json + pd.DataFrame(rows)",
        "peer: pd.read_csv(csv url)",
        "read_watch_dashboard, 10 widgets",
        "[stored server] read_result",
        "import pandas, watch_pandas",
        "[stored server] read_result, msgspec only (no scanner)",
    ):
        assert label in table
    # what the compiled row scanner brings, measured in the same run (information, no target)
    assert re.search(r"msgspec only / with the scanner +\d+\.\d\d×", table)
    verdicts = [line for line in table.splitlines() if line.endswith(("PASS", "FAIL"))]
    targets = {line.split(".", 1)[0].strip() for line in verdicts}
    assert targets >= {"1", "2", "3", "4", "5", "6"}  # every target got a number and a verdict
    assert len(verdicts) == 13
    assert "final DataFrame memory" in table
