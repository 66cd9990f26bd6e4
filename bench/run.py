"""Side-by-side read benchmark: ``python -m bench`` (``--quick`` for a 100k-row smoke run,
``--scaling`` for the scaling table).

Starts a local Watch server (``watch_pandas.testing.LocalWatch``) in its Redash-like mode
(``serialize="per-request"``: each result body json-dumped whole before its first byte, then
sent at once) with three workloads shaped like real servers (``bench/workloads.py``: untyped
SQLite-like, typed PostgreSQL-like, 40 columns wide), each read next to its download and the
naive peer, plus the demo's large typed query for the cold read, the local cache and the
10-widget dashboard. Every contender runs in its own process, round-robin, ``--runs`` times;
the report prints medians and the issue-16 targets with PASS/FAIL. Timings are wall-clock on
a possibly shared machine: read the ratios, which compare contenders measured back to back.
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from bench import workloads
from watch_pandas.testing import LocalWatch
from watch_pandas.testing._demo import LARGE_ROWS, LARGE_SQL

ROOT = Path(__file__).resolve().parents[1]
REDASH, STORED = "per-request", "stored"
# Bodies built at once, as Redash's web worker processes build them (its default: 4).
WEB_WORKERS = 4
# The demo's large typed query: cold read, local cache, dashboard, the other peers.
READS = [
    "read_watch_query_cached",
    "cold_read",
    "pandas_read_csv",
    "curl_post",
    "dashboard",
    "dashboard_slowest",
]
# On a second server with 4 query workers (each query's database time a wait, SWEEP_DELAY).
SWEEPS = ["sweep", "sweep_parts_alone"]
# Each workload of bench/workloads.py: its download, four reads of it and the naive peer.
PER_WORKLOAD = [
    "download_post",
    "read_watch_query",
    "read_watch_query_1_worker",
    "read_watch_query_msgspec",
    "requests_json",
]
IMPORTS = ["import_pandas", "import_watch_pandas"]
LABELS = {
    "download_post": "download floor: requests POST → nowhere",
    "curl_post": "download floor: curl -o /dev/null (POST), demo query",
    "read_watch_query": "read_watch_query, cache=False",
    "read_watch_query_1_worker": "read_watch_query, 1 decode worker",
    "read_watch_query_msgspec": "read_watch_query, msgspec only (no scanner)",
    "requests_json": "peer: requests + json + pd.DataFrame(rows)",
    "read_watch_query_cached": "read_watch_query, local cache hit (demo query)",
    "cold_read": "COLD read_watch_query: max_age=0, empty local cache",
    "pandas_read_csv": "peer: pd.read_csv(csv url), demo query",
    "dashboard": "read_watch_dashboard, 10 widgets",
    "dashboard_slowest": "read_watch_query of its slowest widget",
    "sweep": "read_watch_sweep, 12 parts, 4 workers",
    "sweep_parts_alone": "the 12 parts read one after another",
    "import_pandas": "import pandas",
    "import_watch_pandas": "import pandas, watch_pandas",
}
# Dashboard widgets: one large table and nine small ones (fractions of the workload's rows).
DASHBOARD_SHARES = [0.1] + [0.001 * k for k in range(1, 10)]
# The peer holds every row as a dict and then the frame: past this many cells it would need
# more memory than the table is worth (it is skipped, and says so).
PEER_MAX_CELLS = 40_000_000
# The sweep's server: as many query workers as the sweep has, each query waiting this long
# queued and again running (its database elsewhere, as a real server's is).
SWEEP_SERVER_WORKERS, SWEEP_DELAY = 4, 0.25


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
    stored = state.setdefault("workloads", {})
    for name in workloads.WORKLOADS:
        if name not in stored:
            print(f"storing the {rows:,}-row {name} workload …", file=sys.stderr)
            stored[name] = workloads.store(lw, name, rows)
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
    """Every contender ``runs`` times, round-robin; results by contender (``name@workload``
    for the workloads' reads)."""
    state = _workload(lw, rows, data / f"workload-{rows}.json")
    cfg = {
        "url": lw.url,
        "key": lw.admin_key,
        **state,
        "cache_dir": str(data / f"client-cache-{rows}"),
    }
    jobs = [
        (f"{name}@{workload}", name, {**cfg, "query_id": state["workloads"][workload]})
        for workload in workloads.WORKLOADS
        for name in PER_WORKLOAD
    ]
    jobs += [(name, name, cfg) for name in READS if name != "curl_post" or shutil.which("curl")]
    sweep_server = LocalWatch(
        demo=True, workers=SWEEP_SERVER_WORKERS, execution_delay=SWEEP_DELAY
    ).start()
    sweep_cfg = {
        "sweep_url": sweep_server.url,
        "sweep_key": sweep_server.admin_key,
        "sweep_query_id": sweep_server.demo.queries["price_history"],
    }
    jobs += [(name, name, sweep_cfg) for name in SWEEPS]
    lw.serialize = REDASH
    _run_contender("read_watch_query_cached", cfg)  # fills the local cache: later runs hit it
    results: dict[str, list[dict[str, Any]]] = {key: [] for key, _, _ in jobs}
    results.update({name: [] for name in IMPORTS})
    with sweep_server, tempfile.TemporaryDirectory(prefix="bench-cold-") as cold:
        for run in range(runs):
            for key, name, job_cfg in jobs:  # round-robin: a noisy moment hurts every one alike
                run_cfg = {**job_cfg, "cold_cache_dir": str(Path(cold) / f"run-{run}")}
                results[key].append(_run_contender(name, run_cfg))
            for name in IMPORTS:
                results[name].append(_run_contender(name, cfg))
            print(f"run {run + 1}/{runs} done", file=sys.stderr)
    return results


def _median(results: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in results if r.get(key) is not None]
    return statistics.median(values) if values else None


def _per_run(
    results: dict[str, list[dict[str, Any]]],
    names: list[str],
    ratio: Callable[..., float],
) -> tuple[float, float, float] | None:
    """Median, lowest and highest over the runs of ``ratio(*each name's result of that run)``:
    the contenders of one run were measured back to back (round robin), so a slow spell of a
    shared machine moves both sides of the ratio."""
    values = [ratio(*run) for run in zip(*(results[n] for n in names), strict=True)]
    if not values:
        return None
    return statistics.median(values), min(values), max(values)


def _overhead(read: dict[str, Any], download: dict[str, Any]) -> float:
    """The client's time beyond the download, as a share of the download."""
    return float(read["wall"] - download["wall"]) / download["wall"]


def _overhead_vs_peer(
    read: dict[str, Any], download: dict[str, Any], peer: dict[str, Any]
) -> float:
    return float(read["wall"] - download["wall"]) / max(peer["wall"] - download["wall"], 1e-9)


def _sweep_ratio(sweep: dict[str, Any], alone: dict[str, Any]) -> float:
    """The sweep's time over the best its workers could do: the parts' time ÷ the workers."""
    from bench.contenders import SWEEP_WORKERS

    return float(sweep["wall"]) / (alone["wall"] / SWEEP_WORKERS)


def _wall_ratio(num: dict[str, Any], den: dict[str, Any]) -> float:
    return float(num["wall"]) / den["wall"]


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
    from watch_pandas._decode._workers import decode_workers

    keys = ("wall", "peak_mb", "baseline_mb", "frame_mb")
    med = {name: {k: _median(rs, k) for k in keys} for name, rs in results.items()}
    runs = len(next(iter(results.values())))
    workers = decode_workers()
    lines = [
        f"watch_pandas read benchmark: {rows:,} rows per workload, {runs} runs per contender "
        "(medians), each run in its own process, contenders round-robin",
        f"server: LocalWatch(serialize='per-request', web_workers={WEB_WORKERS}) — every result "
        "body json-dumped whole before its first byte, then sent at once, as Redash does; "
        "bodies asked for at once are built at once, as by Redash's web worker processes",
        f"decode workers: {workers} (WATCH_DECODE_WORKERS, default: the usable CPUs)",
        machine_before,
        "",
        f"{'contender':<56} {'wall s':>8} {'peak RSS MB':>12} {'RSS − imports':>14}",
    ]

    def row(label: str, name: str) -> str:
        m = med[name]
        if m["peak_mb"] is None:
            return f"{label:<56} {m['wall']:>8.2f} {'n/a':>12} {'n/a':>14}"
        delta = m["peak_mb"] - m["baseline_mb"]
        return f"{label:<56} {m['wall']:>8.2f} {m['peak_mb']:>12.0f} {delta:>14.0f}"

    for workload in workloads.WORKLOADS:
        lines.append(f"[{workloads.LABELS[workload]}]")
        lines += [row(f"  {LABELS[n]}", f"{n}@{workload}") for n in PER_WORKLOAD]
    lines.append("[demo query: 8 typed columns from SQL, executed by the server]")
    for name in READS + SWEEPS + IMPORTS:
        if name not in med:
            continue
        if name == SWEEPS[0]:
            lines.append(
                f"[sweep: the demo's price history on a server with {SWEEP_SERVER_WORKERS} query "
                f"workers, each query {SWEEP_DELAY:g} s queued and {SWEEP_DELAY:g} s running]"
            )
        if name in IMPORTS:
            lines.append(f"{LABELS[name]:<56} {med[name]['wall'] * 1000:>6.0f}ms")
        else:
            lines.append(row(LABELS[name], name))
    frames = ", ".join(
        f"{w} {med[f'read_watch_query@{w}']['frame_mb']:.0f} MB" for w in workloads.WORKLOADS
    )
    lines += [
        "",
        f"final DataFrame memory (memory_usage(deep=True)): {frames}",
        "cold read = read_watch_query(max_age=0) with an empty local cache (a copy of the demo "
        "query): the server executes it, serialises the result, the client decodes and stores "
        "it; cache hit = read_watch_query after a read filled the local cache",
        "",
        "targets; read = read_watch_query (cache=False) on the per-request server; time ratios: "
        "median of each run's ratio (both sides measured back to back in that run),",
        "[lowest–highest run]; memory: of the medians",
    ]
    for workload in workloads.WORKLOADS:
        names = [f"{n}@{workload}" for n in ("read_watch_query", "download_post", "requests_json")]
        read = med[names[0]]
        lines += [
            _check(f"1. [{workload}] client overhead (read − download) / download",
                   _per_run(results, names[:2], _overhead), 0.10, at_most=True, unit="×"),
            _check(f"2. [{workload}] client overhead / the peer's overhead",
                   _per_run(results, names, _overhead_vs_peer), 0.2, at_most=True, unit="×"),
            _check(f"3. [{workload}] read's RSS (peak − after imports) / frame",
                   (read["peak_mb"] - read["baseline_mb"]) / read["frame_mb"], 2, at_most=True,
                   unit="×"),
        ]  # fmt: skip
    lines += [
        _check("4. cold read / local cache hit",
               _per_run(results, ["cold_read", "read_watch_query_cached"], _wall_ratio), 20,
               at_most=False, unit="×"),
        _check("5. import pandas+watch_pandas − import pandas",
               (med["import_watch_pandas"]["wall"] - med["import_pandas"]["wall"]) * 1000,
               50, at_most=True, unit="ms"),
        _check("6. dashboard (10 widgets) / its slowest widget",
               _per_run(results, ["dashboard", "dashboard_slowest"], _wall_ratio), 1.3,
               at_most=True, unit="×"),
        _check("7. sweep (12 parts, 4 workers) / (the parts one by one ÷ 4)",
               _per_run(results, SWEEPS, _sweep_ratio), 1.3, at_most=True, unit="×"),
        "",
        "the scanner and the decode workers, on the same reads (information, no target):",
    ]  # fmt: skip
    for workload in workloads.WORKLOADS:
        read = f"read_watch_query@{workload}"
        msgspec, one = (
            f"read_watch_query_msgspec@{workload}",
            f"read_watch_query_1_worker@{workload}",
        )
        lines += [
            _info(f"[{workload}] msgspec alone / with the scanner",
                  _per_run(results, [msgspec, read], _wall_ratio), unit="×"),
            _info(f"[{workload}] 1 worker / {workers} workers",
                  _per_run(results, [one, read], _wall_ratio), unit="×"),
        ]  # fmt: skip
    lines += ["", f"after the run: {machine()}"]
    return "\n".join(lines)


# --------------------------------------------------------------------------- scaling


SCALING_ROWS = (100_000, 1_000_000, 3_000_000)
SCALING_WORKLOADS = ("typed", "wide")  # the same column kinds, 8 and 40 columns


def scaling(lw: LocalWatch, sizes: list[int], runs: int, data: Path) -> str:
    """The scaling table: each contender's time and memory for each size and width, the
    server streaming stored bytes (so the times are the client's own work)."""
    state_file = data / "scaling.json"
    state = json.loads(state_file.read_text()) if state_file.exists() else {}
    for rows in sizes:
        for name in SCALING_WORKLOADS:
            if f"{name}-{rows}" not in state:
                print(f"storing the {rows:,}-row {name} workload …", file=sys.stderr)
                state[f"{name}-{rows}"] = workloads.store(lw, name, rows)
                state_file.write_text(json.dumps(state))
    lw.serialize = STORED
    base = {"url": lw.url, "key": lw.admin_key}
    results: dict[tuple[int, str, str], list[dict[str, Any]]] = {}
    for run in range(runs):
        for rows in sizes:
            for name in SCALING_WORKLOADS:
                n_columns = len(workloads.WORKLOADS[name][0])
                for contender in PER_WORKLOAD:
                    key = (rows, name, contender)
                    results.setdefault(key, [])
                    if contender == "requests_json" and rows * n_columns > PEER_MAX_CELLS:
                        continue
                    cfg = {**base, "query_id": state[f"{name}-{rows}"]}
                    results[key].append(_run_contender(contender, cfg))
        print(f"scaling run {run + 1}/{runs} done", file=sys.stderr)
    lines = [
        f"scaling: {runs} runs per contender (medians), server streaming stored bytes "
        "(LocalWatch(serialize='stored')): the times are the client's own",
        machine(),
        "",
        f"{'rows':>8} {'cols':>4}  {'contender':<46} {'wall s':>8} {'MB':>8} {'frame MB':>9}",
    ]
    for rows in sizes:
        for name in SCALING_WORKLOADS:
            n_columns = len(workloads.WORKLOADS[name][0])
            for contender in PER_WORKLOAD:
                runs_of = results[(rows, name, contender)]
                head = f"{rows:>8,} {n_columns:>4}  {LABELS[contender]:<46}"
                if not runs_of:
                    lines.append(f"{head} skipped (> {PEER_MAX_CELLS:,} cells)")
                    continue
                wall = _median(runs_of, "wall") or 0.0
                peak, baseline = _median(runs_of, "peak_mb"), _median(runs_of, "baseline_mb")
                memory = f"{peak - baseline:>8.0f}" if peak and baseline else f"{'n/a':>8}"
                frame = _median(runs_of, "frame_mb")
                frame_text = f"{frame:>9.0f}" if frame else f"{'':>9}"
                lines.append(f"{head} {wall:>8.3f} {memory} {frame_text}")
    lines.append("MB: peak RSS − RSS after imports of the contender's process")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="100,000 rows, 3 runs (smoke test)")
    parser.add_argument("--runs", type=int, default=None, help="runs per contender (default 5)")
    parser.add_argument("--rows", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument(
        "--scaling",
        action="store_true",
        help="the scaling table instead (100k, 1M, 3M rows × 8 and 40 columns; 3 runs)",
    )
    parser.add_argument(
        "--scaling-rows",
        type=lambda text: [int(n) for n in text.split(",")],
        default=list(SCALING_ROWS),
        help=argparse.SUPPRESS,
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=Path(tempfile.gettempdir()) / "watch-pandas-bench",
        help="folder that keeps the local server's state (the executed workload) between runs",
    )
    parser.add_argument("--json", type=Path, help="also write the raw per-run results here")
    args = parser.parse_args(argv)
    rows = args.rows or (100_000 if args.quick else LARGE_ROWS)
    runs = args.runs or (3 if args.quick or args.scaling else 5)
    args.data.mkdir(parents=True, exist_ok=True)
    before = machine()
    with LocalWatch(db=args.data / "watch.sqlite", demo=True, web_workers=WEB_WORKERS) as lw:
        if args.scaling:
            print(scaling(lw, args.scaling_rows, runs, args.data))
            return 0
        results = measure(lw, rows, runs, args.data)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    print(report(results, rows, before))
    return 0
