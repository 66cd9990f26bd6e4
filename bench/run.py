"""Side-by-side read benchmark: ``python -m bench`` (``--quick`` for a 100k-row smoke run).

Starts a local Watch server (``watch_pandas.testing.LocalWatch``) with the demo's large query
(1,000,000 rows × 8 typed columns: int, float, bool, date, datetime, text, nullable int,
wei-sized int), runs it once so its result is cached (kept in ``--data`` between runs), then
runs every contender in its own process, round-robin, ``--runs`` times, and prints the medians
and the issue-5 targets with PASS/FAIL. Timings are wall-clock on a shared machine: read the
ratios, which compare contenders measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

from watch_pandas.testing import LocalWatch
from watch_pandas.testing._demo import LARGE_ROWS, LARGE_SQL

ROOT = Path(__file__).resolve().parents[1]
READS = [
    "download_post",
    "curl_post",
    "download_get",
    "stream_post",
    "stream_get",
    "whole_post",
    "read_watch_query",
    "read_watch_query_cached",
    "requests_json",
    "pandas_read_csv",
]
IMPORTS = ["import_pandas", "import_watch_pandas"]
LABELS = {
    "download_post": "download floor: requests, POST inline reply → nowhere",
    "curl_post": "download floor: curl -o /dev/null (POST)",
    "download_get": "download floor: requests, GET result by id → nowhere",
    "stream_post": "AFTER  read_result, streamed POST (cached, inline)",
    "stream_get": "AFTER  read_result, streamed GET by id",
    "whole_post": "BEFORE decode_result on the whole POST body",
    "read_watch_query": "read_watch_query, cache=False (api.py as committed)",
    "read_watch_query_cached": "read_watch_query, local cache hit (api.py as committed)",
    "requests_json": "peer: requests + json + pd.DataFrame(rows)",
    "pandas_read_csv": "peer: pd.read_csv(csv url)",
    "import_pandas": "import pandas",
    "import_watch_pandas": "import pandas, watch_pandas",
}


def _workload(lw: LocalWatch, rows: int, state_file: Path) -> tuple[int, int]:
    """The workload query's id and a cached result id (executed once per data folder)."""
    state = json.loads(state_file.read_text()) if state_file.exists() else {}
    query_id = state.get("query_id")
    if query_id is None:
        if rows == LARGE_ROWS:
            query_id = lw.demo.queries["large"]
        else:
            sql = LARGE_SQL.replace(f"n < {LARGE_ROWS}", f"n < {rows}")
            query_id = lw.add_query(sql, lw.demo.data_sources["typed"], name=f"Bench {rows} rows")
    result_id = _cached_result_id(lw, query_id)
    if result_id is None:
        print(f"executing the {rows:,}-row workload once (cached afterwards) …", file=sys.stderr)
        result_id = lw.refresh_query(query_id)
    state_file.write_text(json.dumps({"query_id": query_id, "result_id": result_id}))
    return query_id, result_id


def _cached_result_id(lw: LocalWatch, query_id: int) -> int | None:
    url = f"{lw.url}/api/queries/{query_id}/results"
    headers = {"Authorization": f"Key {lw.admin_key}"}
    with requests.post(url, json={"max_age": -1}, headers=headers, stream=True) as response:
        head = next(response.iter_content(256), b"")
    if not head.startswith(b'{"query_result": {"id": '):
        return None
    return int(head.split(b'"id": ', 1)[1].split(b",", 1)[0])


def _run_contender(name: str, cfg: dict[str, Any]) -> dict[str, Any]:
    """Run one contender in a fresh process; its JSON line plus the process's peak RSS."""
    if name == "curl_post":
        return _run_curl(cfg)
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.contenders", name, json.dumps(cfg)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None
    output = proc.stdout.read()
    _, status, _ = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"contender {name} failed with exit code {proc.returncode}")
    return json.loads(output.decode().strip().splitlines()[-1])


def _run_curl(cfg: dict[str, Any]) -> dict[str, Any]:
    command = [
        "curl", "-s", "-f", "-o", os.devnull, "-X", "POST",
        "-H", f"Authorization: Key {cfg['key']}", "-H", "Content-Type: application/json",
        "--data", '{"max_age": -1}', f"{cfg['url']}/api/queries/{cfg['query_id']}/results",
    ]  # fmt: skip
    started = time.perf_counter()
    proc = subprocess.Popen(command)
    status = proc.wait()
    wall = time.perf_counter() - started
    if status != 0:
        raise RuntimeError("curl failed")
    return {"wall": wall}  # its RSS is not comparable (C program, no Python)


def measure(lw: LocalWatch, rows: int, runs: int, data: Path) -> dict[str, list[dict[str, Any]]]:
    query_id, result_id = _workload(lw, rows, data / f"workload-{rows}.json")
    cfg = {
        "url": lw.url,
        "key": lw.admin_key,
        "query_id": query_id,
        "result_id": result_id,
        "cache_dir": str(data / f"client-cache-{rows}"),
    }
    names = [n for n in READS if n != "curl_post" or shutil.which("curl")] + IMPORTS
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for run in range(runs):
        for name in names:  # round-robin: a noisy moment hurts every contender alike
            results[name].append(_run_contender(name, cfg))
        print(f"run {run + 1}/{runs} done", file=sys.stderr)
    return results


def _median(results: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in results if r.get(key) is not None]
    return statistics.median(values) if values else None


def _check(label: str, value: float | None, limit: float, *, at_most: bool, unit: str) -> str:
    if value is None:
        return f"{label:<62} {'n/a':>9}"
    verdict = "PASS" if (value <= limit if at_most else value >= limit) else "FAIL"
    sign = "≤" if at_most else "≥"
    return f"{label:<62} {value:>8.2f}{unit} (target {sign} {limit:g}{unit})  {verdict}"


def report(results: dict[str, list[dict[str, Any]]], rows: int) -> str:
    med = {name: {k: _median(rs, k) for k in ("wall", "peak_mb", "baseline_mb", "tail", "frame_mb")}
           for name, rs in results.items()}  # fmt: skip
    runs = len(next(iter(results.values())))
    lines = [
        f"watch_pandas read benchmark: {rows:,} rows × 8 columns, {runs} runs per contender "
        f"(medians), each run in its own process; {os.cpu_count()} CPUs",
        "",
        f"{'contender':<56} {'wall s':>8} {'peak RSS MB':>12} {'RSS − imports':>14}",
    ]
    for name in READS + IMPORTS:
        if name not in med:
            continue
        m = med[name]
        if name in IMPORTS:
            lines.append(f"{LABELS[name]:<56} {m['wall'] * 1000:>6.0f}ms")
        elif m["peak_mb"] is None:
            lines.append(f"{LABELS[name]:<56} {m['wall']:>8.2f} {'n/a':>12} {'n/a':>14}")
        else:
            delta = m["peak_mb"] - m["baseline_mb"]
            lines.append(
                f"{LABELS[name]:<56} {m['wall']:>8.2f} {m['peak_mb']:>12.0f} {delta:>14.0f}"
            )
    after, floor = med["stream_post"], med["download_post"]
    peer = med["requests_json"]
    frame_mb = after["frame_mb"]
    read_delta = after["peak_mb"] - after["baseline_mb"]
    lines += [
        "",
        f"final DataFrame memory (memory_usage(deep=True)): {frame_mb:.0f} MB; "
        f"client work after the last byte (median): {after['tail']:.2f} s",
        "",
        "targets (issue 5), AFTER = read_result on the streamed POST reply",
        _check("1. read wall / download floor (requests POST)", after["wall"] / floor["wall"],
               1.2, at_most=True, unit="×"),
        _check("1. client work after last byte / download floor", after["tail"] / floor["wall"],
               0.2, at_most=True, unit="×"),
        _check("2. speed-up vs requests+json+DataFrame", peer["wall"] / after["wall"],
               1.4, at_most=False, unit="×"),
        _check("2. peak RSS vs requests+json+DataFrame", after["peak_mb"] / peer["peak_mb"],
               0.4, at_most=True, unit="×"),
        _check("3. read's RSS (peak − after imports) / frame memory", read_delta / frame_mb,
               2.5, at_most=True, unit="×"),
        _check("3'. whole-process peak RSS / frame memory (strict reading)",
               after["peak_mb"] / frame_mb, 2.5, at_most=True, unit="×"),
        _check("6. import pandas+watch_pandas − import pandas",
               (med["import_watch_pandas"]["wall"] - med["import_pandas"]["wall"]) * 1000,
               50, at_most=True, unit="ms"),
        "",
        f"before → after (same run): decode_result {med['whole_post']['wall']:.2f} s / "
        f"{med['whole_post']['peak_mb']:.0f} MB → read_result {after['wall']:.2f} s / "
        f"{after['peak_mb']:.0f} MB; pd.read_csv "
        f"{med['pandas_read_csv']['wall']:.2f} s (untyped dates, object text)",
    ]  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="100,000 rows, 3 runs (smoke test)")
    parser.add_argument("--runs", type=int, default=None, help="runs per contender (default 5)")
    parser.add_argument("--rows", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument(
        "--data",
        type=Path,
        default=Path(tempfile.gettempdir()) / "watch-pandas-bench",
        help="folder that keeps the local server's state (the executed workload) between runs",
    )
    parser.add_argument("--json", type=Path, help="also write the raw per-run results here")
    args = parser.parse_args(argv)
    rows = args.rows or (100_000 if args.quick else LARGE_ROWS)
    runs = args.runs or (3 if args.quick else 5)
    args.data.mkdir(parents=True, exist_ok=True)
    with LocalWatch(db=args.data / "watch.sqlite", demo=True) as lw:
        results = measure(lw, rows, runs, args.data)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    print(report(results, rows))
    return 0
