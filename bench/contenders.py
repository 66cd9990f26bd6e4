"""One benchmark contender per process: ``python -m bench.contenders NAME CONFIG_JSON``.

Each contender reads the same cached result from the local server and prints one JSON line:
``wall`` (seconds from the first request to the finished object, imports excluded),
``baseline_mb`` (RSS after imports, before the read), ``frame_mb`` (``memory_usage(deep=True)``)
and, for streamed reads, ``tail`` (seconds of client work after the last byte arrived).
The parent measures the process's peak RSS itself (``os.wait4``).
"""

from __future__ import annotations

import json
import resource
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

CHUNK = 1 << 20


def _rss_mb(field: str = "VmHWM") -> float:
    """This process's peak (``VmHWM``) or current (``VmRSS``) resident memory in MB.

    Not ``ru_maxrss``: Linux carries that over ``exec`` from the forked parent (the benchmark
    process, with the server and pandas loaded), which would put a floor under every number.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _headers(cfg: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Key {cfg['key']}"}


def _post_url(cfg: dict[str, Any]) -> str:
    return f"{cfg['url']}/api/queries/{cfg['query_id']}/results"


def download_post(cfg: dict[str, Any]) -> dict[str, Any]:
    """The floor: requests streams the cached result's JSON (inline POST reply) to nowhere."""
    import requests

    started = time.perf_counter()
    size = 0
    with requests.post(
        _post_url(cfg), json={"max_age": -1}, headers=_headers(cfg), stream=True
    ) as response:
        for chunk in response.iter_content(CHUNK):
            size += len(chunk)
    return {"wall": time.perf_counter() - started, "bytes": size}


def download_get(cfg: dict[str, Any]) -> dict[str, Any]:
    """The floor of the by-id path: GET /api/query_results/<id>.json to nowhere."""
    import requests

    started = time.perf_counter()
    size = 0
    url = f"{cfg['url']}/api/query_results/{cfg['result_id']}.json"
    with requests.get(url, headers=_headers(cfg), stream=True) as response:
        for chunk in response.iter_content(CHUNK):
            size += len(chunk)
    return {"wall": time.perf_counter() - started, "bytes": size}


def _timed_chunks(chunks: Any, marks: dict[str, float]) -> Iterator[bytes]:
    for chunk in chunks:
        yield chunk
        marks["last_byte"] = time.perf_counter()


def _frame_result(df: Any, started: float, marks: dict[str, float]) -> dict[str, Any]:
    ended = time.perf_counter()
    out = {"wall": ended - started, "rows": len(df), "dtypes": sorted(map(str, set(df.dtypes)))}
    if "last_byte" in marks:
        out["tail"] = ended - marks["last_byte"]
    out["frame_mb"] = float(df.memory_usage(deep=True).sum()) / 1e6
    return out


def stream_post(cfg: dict[str, Any]) -> dict[str, Any]:
    """After: inline POST reply decoded by _decode.read_result while it arrives."""
    from watch_pandas._client import WatchClient
    from watch_pandas._decode import read_result

    client = WatchClient(cfg["url"], cfg["key"])
    marks: dict[str, float] = {}
    started = time.perf_counter()
    answer = client.post_query_results(cfg["query_id"], max_age=-1, stream=True)
    df, _ = read_result(_timed_chunks(answer.body, marks))
    return _frame_result(df, started, marks)


def stream_get(cfg: dict[str, Any]) -> dict[str, Any]:
    """After, by-id path: WatchClient.open_result + _decode.read_result."""
    from watch_pandas._client import WatchClient
    from watch_pandas._decode import read_result

    client = WatchClient(cfg["url"], cfg["key"])
    marks: dict[str, float] = {}
    started = time.perf_counter()
    df, _ = read_result(_timed_chunks(client.open_result(cfg["result_id"]), marks))
    return _frame_result(df, started, marks)


def whole_post(cfg: dict[str, Any]) -> dict[str, Any]:
    """Before: the inline POST body read whole, then _decode.decode_result."""
    from watch_pandas._client import WatchClient
    from watch_pandas._decode import decode_result

    client = WatchClient(cfg["url"], cfg["key"])
    started = time.perf_counter()
    answer = client.post_query_results(cfg["query_id"], max_age=-1)
    df, _ = decode_result(answer.body)
    return _frame_result(df, started, {})


def read_watch_query(cfg: dict[str, Any]) -> dict[str, Any]:
    """The public verb as api.py composes it today (metadata requests included), cold:
    ``cache=False`` so the server's cached result is fetched and decoded every time."""
    import watch_pandas

    started = time.perf_counter()
    df = watch_pandas.read_watch_query(
        cfg["query_id"], url=cfg["url"], api_key=cfg["key"], progress=False, cache=False
    )
    return _frame_result(df, started, {})


def read_watch_query_cached(cfg: dict[str, Any]) -> dict[str, Any]:
    """The public verb served by the local Parquet cache (the first run ever fills it)."""
    import watch_pandas

    started = time.perf_counter()
    df = watch_pandas.read_watch_query(
        cfg["query_id"], url=cfg["url"], api_key=cfg["key"], progress=False,
        cache_dir=cfg["cache_dir"],
    )  # fmt: skip
    return _frame_result(df, started, {})


def read_watch_query_1_worker(cfg: dict[str, Any]) -> dict[str, Any]:
    """The same read decoded on the calling thread alone (``WATCH_DECODE_WORKERS=1``)."""
    import os

    os.environ["WATCH_DECODE_WORKERS"] = "1"
    return read_watch_query(cfg)


def read_watch_query_msgspec(cfg: dict[str, Any]) -> dict[str, Any]:
    """The same read with msgspec alone, as an install without a C compiler decodes."""
    from watch_pandas import _rows

    _rows._scan_rows = None
    return read_watch_query(cfg)


def cold_read(cfg: dict[str, Any]) -> dict[str, Any]:
    """The cold read: a fresh run on the server (max_age=0) into an empty local cache."""
    import watch_pandas

    started = time.perf_counter()
    df = watch_pandas.read_watch_query(
        cfg["cold_query_id"], url=cfg["url"], api_key=cfg["key"], progress=False, max_age=0,
        cache_dir=cfg["cold_cache_dir"],
    )  # fmt: skip
    return _frame_result(df, started, {})


def dashboard(cfg: dict[str, Any]) -> dict[str, Any]:
    """read_watch_dashboard on the 10-widget dashboard (server's cached results, no local
    cache: every widget's rows are fetched and decoded)."""
    import watch_pandas

    started = time.perf_counter()
    frames = watch_pandas.read_watch_dashboard(
        cfg["dashboard_id"], url=cfg["url"], api_key=cfg["key"], progress=False, cache=False
    )
    wall = time.perf_counter() - started
    return {"wall": wall, "rows": sum(len(f) for f in frames.values()), "widgets": len(frames)}


def dashboard_slowest(cfg: dict[str, Any]) -> dict[str, Any]:
    """The dashboard's largest widget query read alone, the same way."""
    return read_watch_query({**cfg, "query_id": cfg["dashboard_slowest"]})


# The sweep: 12 parts of the demo's price history (10 days each), 4 at once, every part run
# by the server (max_age=0) and nothing from the local cache.
SWEEP_WORKERS = 4


def _sweep_periods() -> list[dict[str, str]]:
    from watch_pandas import date_ranges

    return date_ranges("2024-01-01", "2024-04-29", "10D")


def _sweep_read_options(cfg: dict[str, Any]) -> dict[str, Any]:
    return {
        "url": cfg["sweep_url"], "api_key": cfg["sweep_key"], "progress": False, "max_age": 0,
        "cache": False,
    }  # fmt: skip


def sweep(cfg: dict[str, Any]) -> dict[str, Any]:
    """read_watch_sweep over the 12 parts with 4 workers."""
    import watch_pandas

    periods = _sweep_periods()
    started = time.perf_counter()
    df = watch_pandas.read_watch_sweep(
        cfg["sweep_query_id"], {"period": periods}, params={"min_price": 0},
        max_workers=SWEEP_WORKERS, errors="raise", **_sweep_read_options(cfg),
    )  # fmt: skip
    return {"wall": time.perf_counter() - started, "rows": len(df), "parts": len(periods)}


def sweep_parts_alone(cfg: dict[str, Any]) -> dict[str, Any]:
    """The same 12 parts read one after another: the server's time for all of them (each
    part's read, the client's own small share included)."""
    import watch_pandas

    periods = _sweep_periods()
    started = time.perf_counter()
    rows = 0
    for period in periods:
        df = watch_pandas.read_watch_query(
            cfg["sweep_query_id"], {"period": period, "min_price": 0}, **_sweep_read_options(cfg)
        )
        rows += len(df)
    return {"wall": time.perf_counter() - started, "rows": rows, "parts": len(periods)}


def requests_json(cfg: dict[str, Any]) -> dict[str, Any]:
    """What users do today (redash-toolbelt style): requests + json + DataFrame(rows)."""
    import pandas as pd
    import requests

    started = time.perf_counter()
    response = requests.post(_post_url(cfg), json={"max_age": -1}, headers=_headers(cfg))
    rows = response.json()["query_result"]["data"]["rows"]
    df = pd.DataFrame(rows)
    del rows, response
    return _frame_result(df, started, {})


def pandas_read_csv(cfg: dict[str, Any]) -> dict[str, Any]:
    """pd.read_csv on the result's CSV download (the server's CSV, org date format)."""
    import pandas as pd

    started = time.perf_counter()
    url = f"{cfg['url']}/api/query_results/{cfg['result_id']}.csv"
    df = pd.read_csv(url, storage_options=_headers(cfg))
    return _frame_result(df, started, {})


def import_pandas(cfg: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    import pandas  # noqa: F401

    return {"wall": time.perf_counter() - started}


def import_watch_pandas(cfg: dict[str, Any]) -> dict[str, Any]:
    """pandas and watch_pandas: what a user who reads a frame imports (pandas is lazy in it)."""
    started = time.perf_counter()
    import pandas  # noqa: F401

    import watch_pandas  # noqa: F401

    return {"wall": time.perf_counter() - started}


CONTENDERS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "download_post": download_post,
    "download_get": download_get,
    "stream_post": stream_post,
    "stream_get": stream_get,
    "whole_post": whole_post,
    "read_watch_query": read_watch_query,
    "read_watch_query_1_worker": read_watch_query_1_worker,
    "read_watch_query_msgspec": read_watch_query_msgspec,
    "read_watch_query_cached": read_watch_query_cached,
    "cold_read": cold_read,
    "requests_json": requests_json,
    "pandas_read_csv": pandas_read_csv,
    "dashboard": dashboard,
    "dashboard_slowest": dashboard_slowest,
    "sweep": sweep,
    "sweep_parts_alone": sweep_parts_alone,
    "import_pandas": import_pandas,
    "import_watch_pandas": import_watch_pandas,
}
# Imported before the baseline RSS is taken, so that RSS deltas count the read, not imports.
_API = ("pandas", "pyarrow", "pyarrow.compute", "msgspec", "watch_pandas._api")
PRELOAD = {
    "stream_post": ("pandas", "pyarrow", "pyarrow.compute", "msgspec", "watch_pandas._client"),
    "stream_get": ("pandas", "pyarrow", "pyarrow.compute", "msgspec", "watch_pandas._client"),
    "whole_post": ("pandas", "pyarrow", "pyarrow.compute", "msgspec", "watch_pandas._client"),
    "read_watch_query": ("pandas", "pyarrow", "pyarrow.compute", "msgspec", "watch_pandas._api"),
    "read_watch_query_cached": _API[:2]
    + ("pyarrow.parquet", "watch_pandas._api", "watch_pandas._cache"),
    "requests_json": ("pandas", "requests"),
    "pandas_read_csv": ("pandas", "fsspec", "aiohttp"),
    "download_post": ("requests",),
    "download_get": ("requests",),
}
PRELOAD.update(
    read_watch_query_1_worker=_API,
    read_watch_query_msgspec=_API + ("watch_pandas._rows",),
    cold_read=_API + ("pyarrow.parquet", "watch_pandas._cache"),
    dashboard=_API + ("watch_pandas._dashboards",),
    dashboard_slowest=_API,
    sweep=_API + ("watch_pandas._sweeps",),
    sweep_parts_alone=_API + ("watch_pandas._sweeps",),
)


def main(argv: list[str]) -> None:
    name, cfg = argv[0], json.loads(argv[1])
    import importlib

    for module in PRELOAD.get(name, ()):
        try:
            importlib.import_module(module)
        except ImportError:
            pass
    if name not in ("download_post", "download_get") and name in PRELOAD:
        import pyarrow.compute  # noqa: F401

        import watch_pandas._decode  # noqa: F401  (decoding modules are imported on first use)
        import watch_pandas._rows  # noqa: F401
    baseline = _rss_mb("VmRSS")
    out = CONTENDERS[name](cfg)
    out["baseline_mb"] = baseline
    out["peak_mb"] = _rss_mb()
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])
