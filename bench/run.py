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
import platform
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
REDASH, STORED = "per-request", "stored"
# (contender, the server's serialisation mode while it runs)
READS = [
    ("download_post", REDASH),
    ("curl_post", REDASH),
    ("stream_post", REDASH),
    ("read_watch_query", REDASH),
    ("read_watch_query_cached", REDASH),
    ("cold_read", REDASH),
    ("requests_json", REDASH),
    ("pandas_read_csv", REDASH),
    ("dashboard", REDASH),
    ("dashboard_slowest", REDASH),
    ("download_post_stored", STORED),
    ("stream_post_stored", STORED),
    ("stream_post_stored_msgspec", STORED),
    ("requests_json_stored", STORED),
    ("dashboard_stored", STORED),
    ("dashboard_slowest_stored", STORED),
]
IMPORTS = ["import_pandas", "import_watch_pandas"]
LABELS = {
    "download_post": "download floor: requests POST → nowhere",
    "curl_post": "download floor: curl -o /dev/null (POST)",
    "stream_post": "READ: frames.read_result on the POST reply",
    "read_watch_query": "read_watch_query, cache=False (server's cached result)",
    "read_watch_query_cached": "read_watch_query, local cache hit",
    "cold_read": "COLD read_watch_query: max_age=0, empty local cache",
    "requests_json": "peer: requests + json + pd.DataFrame(rows)",
    "pandas_read_csv": "peer: pd.read_csv(csv url)",
    "dashboard": "read_watch_dashboard, 10 widgets",
    "dashboard_slowest": "read_watch_query of its slowest widget",
    "download_post_stored": "[stored server] download floor: requests POST",
    "stream_post_stored": "[stored server] read_result, streamed POST",
    "stream_post_stored_msgspec": "[stored server] read_result, msgspec only (no scanner)",
    "requests_json_stored": "[stored server] peer: requests + json + DataFrame",
    "dashboard_stored": "[stored server] read_watch_dashboard, 10 widgets",
    "dashboard_slowest_stored": "[stored server] its slowest widget alone",
    "import_pandas": "import pandas",
    "import_watch_pandas": "import pandas, watch_pandas",
}
# Dashboard widgets: one large table and nine small ones (fractions of the workload's rows).
DASHBOARD_SHARES = [0.1] + [0.001 * k for k in range(1, 10)]


def _sql(rows: int) -> str:
    return LARGE_SQL.replace(f"n < {LARGE_ROWS}", f"n < {rows}")


def _workload(lw: LocalWatch, rows: int, state_file: Path) -> dict[str, Any]:
    """Ids of the workload query, its cached result and the dashboard (executed once per data
    folder; later runs reuse them)."""
    state = json.loads(state_file.read_text()) if state_file.exists() else {}
    typed = lw.demo.data_sources["typed"]
    if "query_id" not in state:
        if rows == LARGE_ROWS:
            state["query_id"] = lw.demo.queries["large"]
        else:
            state["query_id"] = lw.add_query(_sql(rows), typed, name=f"Bench {rows} rows")
    state["result_id"] = _cached_result_id(lw, state["query_id"])
    if state["result_id"] is None:
        print(f"executing the {rows:,}-row workload once (cached afterwards) …", file=sys.stderr)
        state["result_id"] = lw.refresh_query(state["query_id"])
    if "dashboard_id" not in state:
        print("creating the 10-widget dashboard …", file=sys.stderr)
        widget_queries = []
        for i, share in enumerate(DASHBOARD_SHARES):
            n = max(10, int(rows * share))
            query_id = lw.add_query(_sql(n), typed, name=f"Bench widget {i + 1} ({n:,} rows)")
            lw.refresh_query(query_id)
            widget_queries.append(query_id)
        state["dashboard_id"] = lw.add_dashboard(f"Bench {rows} dashboard", widget_queries)
        state["dashboard_slowest"] = widget_queries[0]
    if "cold_query_id" not in state:
        # Its own query (other text, so another query hash): its fresh runs must not make the
        # workload's server result newer, which would rightly invalidate the local cache.
        sql = _sql(rows) + "\n-- cold reads"
        state["cold_query_id"] = lw.add_query(sql, typed, name=f"Bench {rows} rows, cold")
    state_file.write_text(json.dumps(state))
    return state


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
    state = _workload(lw, rows, data / f"workload-{rows}.json")
    cfg = {
        "url": lw.url,
        "key": lw.admin_key,
        **state,
        "cache_dir": str(data / f"client-cache-{rows}"),
    }
    reads = [(n, mode) for n, mode in READS if n != "curl_post" or shutil.which("curl")]
    lw.serialize = REDASH
    _run_contender("read_watch_query_cached", cfg)  # fills the local cache: later runs hit it
    results: dict[str, list[dict[str, Any]]] = {n: [] for n, _ in reads}
    results.update({name: [] for name in IMPORTS})
    with tempfile.TemporaryDirectory(prefix="bench-cold-") as cold:
        for run in range(runs):
            for name, mode in reads:  # round-robin: a noisy moment hurts every contender alike
                lw.serialize = mode
                run_cfg = {**cfg, "cold_cache_dir": str(Path(cold) / f"run-{run}")}
                results[name].append(_run_contender(name, run_cfg))
            for name in IMPORTS:
                results[name].append(_run_contender(name, cfg))
            print(f"run {run + 1}/{runs} done", file=sys.stderr)
    return results


def _median(results: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in results if r.get(key) is not None]
    return statistics.median(values) if values else None


def _paired(
    results: dict[str, list[dict[str, Any]]], num: str, den: str, key: str = "wall"
) -> tuple[float, float, float]:
    """Median, min and max over the runs of ``num``/``den`` measured in the same run (round
    robin: back to back), so a slow spell of the shared machine moves both sides."""
    ratios = [
        a[key] / b["wall"]
        for a, b in zip(results[num], results[den], strict=True)
        if a.get(key) is not None and b.get("wall")
    ]
    return statistics.median(ratios), min(ratios), max(ratios)


def _info(label: str, value: tuple[float, float, float], *, unit: str) -> str:
    """A ratio shown for information (no target): median [lowest–highest run]."""
    median, low, high = value
    return f"{label:<60} {median:>7.2f}{unit} [{low:.2f}–{high:.2f}]"


def _check(
    label: str,
    value: float | tuple[float, float, float] | None,
    limit: float,
    *,
    at_most: bool,
    unit: str,
) -> str:
    if value is None:
        return f"{label:<62} {'n/a':>9}"
    spread = ""
    if isinstance(value, tuple):
        value, low, high = value
        spread = f" [{low:.2f}–{high:.2f}]"
    verdict = "PASS" if (value <= limit if at_most else value >= limit) else "FAIL"
    sign = "≤" if at_most else "≥"
    return f"{label:<60} {value:>7.2f}{unit}{spread:<15} (target {sign} {limit:g}{unit})  {verdict}"


def machine() -> str:
    """CPU count, load, Python and library versions: what the numbers were measured on."""
    import msgspec
    import pandas
    import pyarrow

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return (
        f"machine: {os.cpu_count()} CPUs (load average {load}), Python "
        f"{platform.python_version()}, pandas {pandas.__version__}, pyarrow "
        f"{pyarrow.__version__}, msgspec {msgspec.__version__}, {platform.platform()}"
    )


def report(results: dict[str, list[dict[str, Any]]], rows: int, machine_before: str) -> str:
    keys = ("wall", "peak_mb", "baseline_mb", "tail", "frame_mb")
    med = {name: {k: _median(rs, k) for k in keys} for name, rs in results.items()}
    runs = len(next(iter(results.values())))
    lines = [
        f"watch_pandas read benchmark: {rows:,} rows × 8 columns, {runs} runs per contender "
        "(medians), each run in its own process, contenders round-robin",
        "server: LocalWatch(serialize='per-request') — every result body json-dumped whole "
        "before its first byte, as Redash does — unless marked [stored server]",
        machine_before,
        "",
        f"{'contender':<56} {'wall s':>8} {'peak RSS MB':>12} {'RSS − imports':>14}",
    ]
    for name in [n for n, _ in READS] + IMPORTS:
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
    after, peer = med["stream_post"], med["requests_json"]
    frame_mb = after["frame_mb"]
    read_delta = after["peak_mb"] - after["baseline_mb"]
    lines += [
        "",
        f"final DataFrame memory (memory_usage(deep=True)): {frame_mb:.0f} MB; client work after "
        f"the last byte (median): {after['tail']:.2f} s",
        "cold read = read_watch_query(max_age=0) with an empty local cache (a copy of the "
        "workload query): the server executes it, serialises the result, the client decodes "
        "and stores it; cache hit = read_watch_query after a read filled the local cache",
        "",
        "targets; READ = read_result on the per-request server's POST reply;",
        "time ratios: median of each run's ratio (both sides measured back to back in that run),",
        "[lowest–highest run]; memory ratios: of the medians",
        _check("1. READ wall / download floor (requests POST)",
               _paired(results, "stream_post", "download_post"), 1.2, at_most=True, unit="×"),
        _check("1. READ client work after last byte / download floor",
               _paired(results, "stream_post", "download_post", "tail"), 0.2, at_most=True,
               unit="×"),
        _check("1'. read_watch_query (cache=False) wall / download floor",
               _paired(results, "read_watch_query", "download_post"), 1.2, at_most=True,
               unit="×"),
        _check("2. speed-up vs requests+json+DataFrame",
               _paired(results, "requests_json", "stream_post"), 1.4, at_most=False, unit="×"),
        _check("2. peak RSS vs requests+json+DataFrame", after["peak_mb"] / peer["peak_mb"],
               0.4, at_most=True, unit="×"),
        _check("2'. [stored server] speed-up vs requests+json+DataFrame",
               _paired(results, "requests_json_stored", "stream_post_stored"), 1.4,
               at_most=False, unit="×"),
        _check("3. read's RSS (peak − after imports) / frame memory", read_delta / frame_mb,
               2.5, at_most=True, unit="×"),
        _check("3'. whole-process peak RSS / frame memory (strict reading)",
               after["peak_mb"] / frame_mb, 2.5, at_most=True, unit="×"),
        _check("4. cold read / local cache hit",
               _paired(results, "cold_read", "read_watch_query_cached"), 20, at_most=False,
               unit="×"),
        _check("4'. read_watch_query cache=False / local cache hit",
               _paired(results, "read_watch_query", "read_watch_query_cached"), 20,
               at_most=False, unit="×"),
        _check("5. dashboard (10 widgets) / its slowest query",
               _paired(results, "dashboard", "dashboard_slowest"), 1.5, at_most=True, unit="×"),
        _check("5'. [stored server] dashboard / its slowest query",
               _paired(results, "dashboard_stored", "dashboard_slowest_stored"), 1.5,
               at_most=True, unit="×"),
        _check("6. import pandas+watch_pandas − import pandas",
               (med["import_watch_pandas"]["wall"] - med["import_pandas"]["wall"]) * 1000,
               50, at_most=True, unit="ms"),
        "",
        _info("[stored server] read_result: msgspec only / with the scanner",
              _paired(results, "stream_post_stored_msgspec", "stream_post_stored"), unit="×"),
        "",
        f"after the run: {machine()}",
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
    before = machine()
    with LocalWatch(db=args.data / "watch.sqlite", demo=True) as lw:
        results = measure(lw, rows, runs, args.data)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    print(report(results, rows, before))
    return 0
