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
        "local cache hit",
        "COLD read_watch_query",
        "peer: requests + json + pd.DataFrame(rows)",
        "peer: pd.read_csv(csv url)",
        "read_watch_dashboard, 10 widgets",
        "import pandas, watch_pandas",
    ):
        assert label in table
    # the workloads shaped like real servers, each read four ways next to its download
    for workload_label in ("untyped (SQLite-like", "typed (PostgreSQL-like", "wide (PostgreSQL"):
        assert workload_label in table
    for contender in ("read_watch_query, 1 decode worker", "read_watch_query, msgspec only"):
        assert table.count(contender) == 3
    # what the scanner and the workers bring, measured in the same run (information)
    assert len(re.findall(r"msgspec alone / with the scanner +\d+\.\d\d×", table)) == 3
    assert len(re.findall(r"1 worker / \d+ workers +\d+\.\d\d×", table)) == 3
    verdicts = [line for line in table.splitlines() if line.endswith(("PASS", "FAIL"))]
    targets = {line.split(".", 1)[0].strip() for line in verdicts}
    assert targets == {"1", "2", "3", "4", "5", "6", "7"}  # each got a number and a verdict
    assert len(verdicts) == 3 * 3 + 4  # overhead, vs the peer, memory: per workload
    for label in ("read_watch_sweep, 12 parts, 4 workers", "the 12 parts read one after another"):
        assert label in table
    assert re.search(r"7\. sweep .* +\d+\.\d\d× \[", table)  # a ratio of each run's two times
    assert "final DataFrame memory" in table


def test_scaling_table_covers_sizes_widths_and_contenders(tmp_path: Path) -> None:
    table = run_bench(tmp_path, "--scaling", "--scaling-rows", "500,1500")
    lines = [line for line in table.splitlines() if line.startswith(("     500", "   1,500"))]
    for rows in ("500", "1,500"):
        for columns in ("8", "40"):
            got = [line for line in lines if line.split()[:2] == [rows, columns]]
            assert len(got) == 5, got  # download, read (N, 1 worker, msgspec), the peer
    assert all(re.search(r"\d+\.\d\d\d +\d+", line) for line in lines)  # time and memory
