"""The ``watch-pandas`` command: ``serve``, ``demo``, ``get`` and ``queries``.

Errors print one clear line on stderr and exit non-zero; the API key is never printed except
by ``serve``, which shows the key of the local server it just created.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from . import _wording
from ._config import config_path, link_instead_of_id
from .errors import ConfigError, WatchError, one_line

__all__ = ["main"]

# The demo query the README's main job reads (a stable name in the local server's demo data).
DEMO_QUERY = "price_history"
DEMO_PARAMS = {"period": ("2024-02-01", "2024-02-29"), "symbols": ["WETH", "WBTC"]}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``watch-pandas`` console script."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        with _wording.use(_wording.CLI):
            return int(args.run(args) or 0)
    except WatchError as exc:
        hint = (
            "Pass --url/--profile, set WATCH_URL and WATCH_API_KEY, or add a profile to "
            f"{config_path()} (see the README)."
        )
        print(f"watch-pandas: error: {one_line(exc, config_hint=hint)}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader went away (`watch-pandas get 6 | head`): stop quietly, like other tools;
        # stdout goes to /dev/null so the interpreter's last flush does not complain again.
        with contextlib.suppress(OSError, ValueError):
            stdout = sys.stdout.fileno()
            devnull = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(devnull, stdout)
            finally:
                os.close(devnull)
        return 128 + 13  # as if killed by SIGPIPE
    except OSError as exc:  # e.g. -o into a folder that does not exist
        where = f": {exc.filename}" if exc.filename else ""
        print(f"watch-pandas: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("watch-pandas: interrupted", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="watch-pandas",
        description="Inverse Watch / Redash query results as typed pandas DataFrames.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the local Watch-compatible server")
    serve.add_argument("--host", default="127.0.0.1", help="bind address (default: loopback)")
    serve.add_argument(
        "--port", type=_port, default=5000, help="port (default: 5000; 0 = any free port)"
    )
    serve.add_argument("--db", type=Path, default=None, help="SQLite file to keep data in")
    serve.add_argument("--demo", action="store_true", help="load the demo dataset and queries")
    serve.add_argument(
        "--execution-delay", type=float, default=0.0, help="seconds each job waits before running"
    )
    serve.add_argument(
        "--serialize",
        choices=("stored", "per-request"),
        default="stored",
        help="per-request: build each result body before sending it, like Redash (slow)",
    )
    serve.add_argument(
        "--web-workers",
        type=_web_workers,
        default=1,
        help="per-request bodies built at once, as by Redash's web worker processes (default: 1)",
    )
    serve.set_defaults(run=_serve)

    demo = sub.add_parser(
        "demo",
        help="read a parameterized query into a DataFrame and show it",
        description="With no WATCH_URL set, starts the local server with demo data; otherwise "
        "reads QUERY_ID from your server.",
    )
    demo.add_argument(
        "query_id", nargs="?", type=_query_id, help="query to read on your own server"
    )
    _connection_args(demo)
    demo.set_defaults(run=_demo)

    get = sub.add_parser("get", help="read a saved query and print it or write it to a file")
    get.add_argument("query_id", type=_query_id)
    get.add_argument(
        "-p",
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a parameter; repeat NAME for multi-value, NAME.start=/NAME.end= for ranges",
    )
    get.add_argument(
        "--max-age",
        type=_max_age,
        default=None,
        help="accept a cached result at most this many seconds old (0: run the query; "
        "default: any age)",
    )
    get.add_argument(
        "--timeout", type=_timeout, default=None, help="overall deadline in seconds (default: none)"
    )
    get.add_argument("-o", "--output", type=Path, help="write .parquet, .feather, .csv or .json")
    _connection_args(get)
    get.set_defaults(run=_get)

    queries = sub.add_parser("queries", help="list saved queries")
    queries.add_argument("--search", "-s", default=None, help="full-text search")
    queries.add_argument("--limit", type=int, default=50)
    _connection_args(queries)
    queries.set_defaults(run=_queries)
    return parser


def _port(text: str) -> int:
    """A TCP port for argparse: one usage line and exit 2 instead of a wrapped or random port."""
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a port: use a number from 0 to 65535 (0 = any free port)"
        )
    return port


def _web_workers(text: str) -> int:
    """``--web-workers`` for argparse: a whole number >= 1."""
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number of web workers: use a whole number >= 1 (1: every body "
            "is built in the server's own process)"
        )
    return int(text)


def _query_id(text: str) -> int:
    """A query id for argparse; a pasted link gets the id and ``--url`` to use instead (and
    is not echoed: it may hold a key)."""
    if text.strip().isdigit():
        return int(text)
    with _wording.use(_wording.CLI):
        link = link_instead_of_id(text, "QUERY_ID")
    raise argparse.ArgumentTypeError(link or f"{text!r} is not a query id: use its number, e.g. 42")


def _max_age(text: str) -> int:
    """``--max-age`` for argparse: whole seconds >= 0 (leaving it out means any age)."""
    from ._read import parse_max_age

    try:
        return parse_max_age(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _timeout(text: str) -> float:
    """``--timeout`` for argparse: seconds > 0 (leaving it out means no deadline)."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not (0 < seconds < math.inf):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number of seconds: use a number > 0, or leave --timeout out "
            "to wait as long as the query runs"
        )
    return seconds


def _connection_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", default=None, help="server URL (default: $WATCH_URL or profile)")
    parser.add_argument("--profile", default=None, help="profile in the config file")


@contextlib.contextmanager
def _server_extra() -> Iterator[None]:
    """Around an import of the local server: without the ``server`` extra installed, one line
    that says what to install instead of a traceback."""
    from .testing import SERVER_EXTRA

    try:
        yield
    except ModuleNotFoundError as exc:
        if exc.name not in SERVER_EXTRA:
            raise
        raise _usage(str(exc)) from None


def _serve(args: argparse.Namespace) -> int:
    with _server_extra():
        from .testing import serve
        from .testing._server import bind_problem

    problem = bind_problem(args.host, args.port)
    if problem is not None:  # one line naming the option, before anything is printed
        which, reason = problem
        raise _usage(f"--{which} {getattr(args, which)}: {reason}")
    serve(
        host=args.host,
        port=args.port,
        db=args.db,
        demo=args.demo,
        execution_delay=args.execution_delay,
        serialize=args.serialize,
        web_workers=args.web_workers,
    )
    return 0


def _demo(args: argparse.Namespace) -> int:
    from ._api import read_watch_query

    if args.url or os.environ.get("WATCH_URL") or args.profile:
        if args.query_id is None:
            raise _usage("demo against your own server needs a QUERY_ID")
        frame = read_watch_query(args.query_id, url=args.url, profile=args.profile)
        _show(frame)
        return 0

    with _server_extra():
        from .testing import LocalWatch

    print("No WATCH_URL set: starting the local Watch server with demo data…")
    with LocalWatch(demo=True) as local:
        query_id = local.demo.queries[DEMO_QUERY]
        print(f"Server: {local.url}  (query {query_id}, params {DEMO_PARAMS})\n")
        attempts = [
            ("first read", True),
            ("again, without the local cache", False),
            ("again", True),
        ]
        for attempt, cache in attempts:
            started = time.perf_counter()
            frame = read_watch_query(
                query_id, DEMO_PARAMS, url=local.url, api_key=local.admin_key, cache=cache
            )
            took = time.perf_counter() - started
            print(f"{attempt}: {frame.attrs['watch']['source']} in {took:.2f} s")
        print()
        _show(frame)
    return 0


def _show(frame) -> None:
    import pandas as pd

    with pd.option_context("display.width", 120, "display.max_columns", 20):
        print(frame.head(10).to_string())
        print(f"\n{len(frame)} rows\n\ndtypes:")
        print(frame.dtypes.to_string())
    info = frame.attrs.get("watch", {})
    print("\nprovenance:")
    for key in ("server", "query_url", "result_id", "retrieved_at", "runtime", "source"):
        print(f"  {key:13} {info.get(key)}")
    print(f"  {'parameters':13} {info.get('parameters')}")


def _get(args: argparse.Namespace) -> int:
    from ._api import read_watch_query
    from ._files import to_feather, to_parquet

    params = _collect_params(args.param)
    if args.output is not None:
        _check_output(args.output)  # before the query runs: a typo in -o costs nothing
    frame = read_watch_query(
        args.query_id,
        params,
        max_age=args.max_age,
        timeout=args.timeout,
        url=args.url,
        profile=args.profile,
    )
    if args.output is None:
        _show(frame)
        return 0
    suffix = args.output.suffix.lower()
    if suffix == ".parquet":
        to_parquet(frame, args.output)  # exact wei integers; pandas' writer refuses them
    elif suffix == ".feather":
        to_feather(frame, args.output)
    elif suffix == ".csv":
        frame.to_csv(args.output, index=False)
    else:
        frame.to_json(args.output, orient="records", date_format="iso", indent=1)
    print(f"wrote {len(frame)} rows to {args.output}")
    return 0


_OUTPUT_SUFFIXES = (".parquet", ".feather", ".csv", ".json")


def _check_output(path: Path) -> None:
    """Refuse an ``-o`` path that cannot be written, saying why, before anything runs."""
    from ._files import why_unwritable

    kinds = ", ".join(_OUTPUT_SUFFIXES[:-1]) + " or " + _OUTPUT_SUFFIXES[-1]
    suffix = path.suffix.lower()
    if not suffix and not path.is_dir():
        raise _usage(f"-o {path} has no suffix; end the file name in {kinds}")
    if suffix and suffix not in _OUTPUT_SUFFIXES:
        raise _usage(f"-o {path}: cannot write {suffix} files; use {kinds}")
    problem = why_unwritable(path)
    if problem is not None:
        raise _usage(f"-o {path}: {problem}")


def _queries(args: argparse.Namespace) -> int:
    from ._cache import is_offline, needs_network
    from ._client import WatchClient

    if is_offline():
        raise needs_network(
            "Listing saved queries", "'watch-pandas get ID' reads from the cache.", argument=False
        )

    with WatchClient(args.url, profile=args.profile) as client:
        rows = [
            (q.id, q.name, ",".join(q.tags), "draft" if q.is_draft else "")
            for q in client.list_queries(q=args.search, limit=args.limit)
        ]
    if not rows:
        print("no queries")
        return 0
    width = max(len(name) for _, name, _, _ in rows)
    print(f"{'id':>6}  {'name':<{width}}  tags")
    for query_id, name, tags, draft in rows:
        print(f"{query_id:>6}  {name:<{width}}  {tags} {draft}".rstrip())
    return 0


def _collect_params(items: Sequence[str]) -> dict[str, object]:
    """``-p`` values: a repeated NAME makes a list (multi-value), NAME.start/NAME.end a range."""
    from ._params import collect_pairs

    return collect_pairs(_split_param(item) for item in items)


def _split_param(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise _usage(f"parameter {text!r} is not NAME=VALUE")
    return name.strip(), value


def _usage(message: str) -> WatchError:
    from .errors import ConfigError

    return ConfigError(message)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
