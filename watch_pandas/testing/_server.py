"""``LocalWatch``: the local Watch-compatible server over real HTTP, and ``serve()`` for the CLI."""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import sys
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

from werkzeug.serving import WSGIRequestHandler, make_server

from ._app import WatchApp
from ._backend import SERIALIZE_MODES, SERIALIZE_STORED, Backend
from ._faults import Counters, FaultMiddleware, Faults
from ._renderers import Renderers, send_through_sockets
from ._store import Store

ADMIN_KEY_ENV = "WATCH_LOCAL_ADMIN_KEY"


class _QuietHandler(WSGIRequestHandler):
    """No access log lines (tests stay quiet); errors still reach ``log_error``."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class LocalWatch:
    """A SQLite-backed Inverse Watch/Redash server on 127.0.0.1, for demos and tests.

    Use as a context manager::

        with LocalWatch(demo=True) as lw:
            lw.url, lw.admin_key, lw.demo.queries["prices"]

    ``db`` is a path to keep the server's state (queries, results, data source databases in a
    ``<db>.d`` folder beside it) across runs; ``None`` keeps everything in a temporary folder.
    ``execution_delay`` seconds are spent queued and again running, so every job state can be
    observed. The admin key is random unless ``WATCH_LOCAL_ADMIN_KEY`` is set.
    ``dashboard_slug_routes=True`` imitates the v8 generation: ``GET/DELETE
    /api/dashboards/<slug>`` and ``client_config.version`` "8.0.0".
    ``serialize="per-request"`` encodes each JSON/CSV result body from the stored rows when it
    is requested, the whole body before the first byte, like Redash (seconds for a million
    rows); the default ``"stored"`` streams the stored rows as they are (same document, fast).
    ``web_workers`` is how many such bodies are built at once, as a real server's web worker
    processes build them (Redash runs several): with more than one, every such body is built
    and sent by one of that many helper processes (``spawn``ed when the server starts; in a
    script, start the server under ``if __name__ == "__main__":``) while this one only speaks
    HTTP.
    """

    def __init__(
        self,
        db: str | os.PathLike[str] | None = None,
        execution_delay: float = 0.0,
        workers: int = 2,
        demo: bool = False,
        date_format: str = "DD/MM/YY",
        time_format: str = "HH:mm",
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        dashboard_slug_routes: bool = False,
        serialize: str = SERIALIZE_STORED,
        web_workers: int = 1,
    ) -> None:
        _check_serialize(serialize)
        _check_port(port)
        renderers = Renderers(web_workers)
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if db is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="local-watch-")
            db_path = Path(self._tmp.name) / "watch.sqlite"
            data_dir = Path(self._tmp.name)
        else:
            db_path = Path(db)
            db_path.parent.mkdir(parents=True, exist_ok=True)
            data_dir = db_path.with_name(db_path.name + ".d")
        self._store = Store(db_path, data_dir)
        self.counters = Counters()
        self.faults = Faults()
        self._backend = Backend(
            self._store,
            counters=self.counters,
            workers=workers,
            execution_delay=execution_delay,
            admin_key=os.environ.get(ADMIN_KEY_ENV) or None,
            date_format=date_format,
            time_format=time_format,
        )
        self._backend.dashboard_slug_routes = dashboard_slug_routes
        self._backend.serialize = serialize
        self._backend.renderers = renderers
        self._host, self._port = host, port
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._demo: Any = None
        self._want_demo = demo

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> LocalWatch:
        """Bind and serve in a background thread (idempotent)."""
        if self._server is None:
            problem = bind_problem(self._host, self._port)
            if problem is not None:  # werkzeug would print two lines and exit the process
                which, reason = problem
                value = self._host if which == "host" else self._port
                raise OSError(f"LocalWatch({which}={value!r}) cannot listen: {reason}")
            app = WatchApp(self._backend)
            faulty = FaultMiddleware(app, self.faults, self.counters, app.route_of)
            wsgi = send_through_sockets(faulty)
            self._server = make_server(
                self._host, self._port, wsgi, threaded=True, request_handler=_QuietHandler
            )
            self._server.daemon_threads = True
            host = self._host if ":" not in self._host else f"[{self._host}]"
            self._backend.base_url = f"http://{host}:{self._server.server_port}"
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="local-watch-http",
                daemon=True,
            )
            self._thread.start()
            self._backend.renderers.start()
            if self._want_demo and self._demo is None:
                self.load_demo()
        return self

    def stop(self) -> None:
        """Stop serving, cancel running jobs and delete temporary files."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self._backend.jobs.shutdown()
        self._backend.renderers.close()
        self._store.close()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> LocalWatch:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = self.url if self._server is not None else "stopped"
        return f"<LocalWatch {state}>"

    # -- connection details ----------------------------------------------------------------
    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:54321`` (no trailing slash)."""
        if self._server is None:
            raise RuntimeError("LocalWatch is not running: use it as a context manager")
        return self._backend.base_url

    @property
    def admin_key(self) -> str:
        """The admin user's API key."""
        return str(self._backend.admin["api_key"])

    # -- content helpers -------------------------------------------------------------------
    def add_data_source(self, name: str = "db", typed: bool = False, schema: bool = True) -> int:
        """Create a SQLite data source (``typed=True`` reports column types like PostgreSQL;
        ``schema=False``: no schema to browse, like a Python data source)."""
        return int(self._backend.create_data_source(name, typed=typed, schema=schema)["id"])

    def pause_data_source(self, data_source_id: int, reason: str | None = None) -> None:
        """Pause a data source: executions answer 400 "<name> is paused ... Please try later."."""
        self._backend.pause_data_source(data_source_id, reason)

    def resume_data_source(self, data_source_id: int) -> None:
        self._backend.resume_data_source(data_source_id)

    def execute_sql(self, data_source_id: int, script: str) -> None:
        """Run DDL/DML (several statements allowed) directly on a data source's database."""
        self._backend.execute_sql(data_source_id, script)

    def add_query(
        self,
        sql: str,
        data_source_id: int,
        name: str = "New Query",
        parameters: Iterable[dict[str, Any]] | None = None,
        published: bool = True,
        description: str | None = None,
        tags: Iterable[str] | None = None,
        options: dict[str, Any] | None = None,
    ) -> int:
        """Save a query (Redash parameter definitions in ``parameters``) and return its id."""
        opts = dict(options or {})
        if parameters is not None:
            opts["parameters"] = [dict(p) for p in parameters]
        query = self._backend.create_query(
            sql,
            data_source_id,
            name=name,
            description=description,
            options=opts,
            tags=list(tags or []),
            is_draft=not published,
        )
        return int(query["id"])

    def query_key(self, query_id: int) -> str:
        """The query's own API key (scope: that query's routes only)."""
        query = self._backend.store.get("queries", int(query_id))
        if query is None:
            raise KeyError(f"no query with id {query_id}")
        return str(query["api_key"])

    def add_visualization(
        self,
        query_id: int,
        type: str,
        name: str,
        options: dict[str, Any] | None = None,
        description: str = "",
    ) -> int:
        """Save a visualization of a query (``type`` as the web UI names it: ``CHART``,
        ``COUNTER``, ``TABLE``, ``PIVOT``...; ``options`` as its editor saves them); returns
        its id."""
        query = self._backend.store.get("queries", int(query_id))
        if query is None:
            raise KeyError(f"no query with id {query_id}")
        vis = self._backend.add_visualization(query, type, name, options, description)
        return int(vis["id"])

    def add_dashboard(
        self, name: str, query_ids: Iterable[int] = (), published: bool = True
    ) -> int:
        """Create a dashboard with one table widget per query; returns its id."""
        dashboard = self._backend.create_dashboard(
            name, query_ids=list(query_ids), is_draft=not published
        )
        return int(dashboard["id"])

    def add_widget(
        self,
        dashboard_id: int,
        query_id: int | None = None,
        *,
        text: str = "",
        position: dict[str, Any] | None = None,
        parameter_mappings: dict[str, Any] | None = None,
    ) -> int:
        """Add a widget to a dashboard; returns its id.

        With ``query_id``: the query's first visualization, every parameter mapped to the
        dashboard parameter of its name unless ``parameter_mappings`` says otherwise (by
        parameter name). Without: a text widget showing the Markdown ``text``. ``position``
        (``col``, ``row``, ``sizeX``, ``sizeY``) is completed with the web UI's limits.
        """
        return int(
            self._backend.add_layout_widget(
                int(dashboard_id),
                None if query_id is None else int(query_id),
                text=text,
                position=position,
                parameter_mappings=parameter_mappings,
            )["id"]
        )

    def add_user(self, name: str, view_only: bool = False) -> str:
        """Add a (non-admin) user and return its API key."""
        return str(self._backend.create_user(name, view_only=view_only)["api_key"])

    def seed_result(self, data_source_id: int, sql: str) -> int:
        """Run ``sql`` now and store it as a cached result (becomes latest of matching queries)."""
        return self._backend.add_result(data_source_id, sql).id

    def refresh_query(self, query_id: int) -> int:
        """Run a saved query with its default parameter values now; returns the result id."""
        from . import _params

        query = self._backend.store.get("queries", int(query_id))
        if query is None:
            raise KeyError(f"no query with id {query_id}")
        definitions = (query.get("options") or {}).get("parameters") or []
        sql = _params.render(query["query"], _params.default_values(definitions))
        return self.seed_result(query["data_source_id"], sql)

    def refresh_schemas(self) -> None:
        """Cache every data source's schema now, as a real server's periodic refresh does: a
        plain ``GET /api/data_sources/<id>/schema`` then answers it inline, without a job.
        Paused sources and sources made with ``schema=False`` are skipped."""
        self._backend.refresh_schemas()

    # -- behaviour switches ----------------------------------------------------------------
    def set_date_format(self, date_format: str, time_format: str = "HH:mm") -> None:
        """Switch the org ``date_format``/``time_format`` (CSV output and client_config)."""
        self._backend.set_date_format(date_format, time_format)

    def hold_jobs(self) -> None:
        """Keep new and queued jobs at status 1 (queued) until ``release_jobs``."""
        self._backend.jobs.hold()

    def release_jobs(self) -> None:
        self._backend.jobs.release()

    @property
    def serialize(self) -> str:
        """How result bodies are made: ``"stored"`` or ``"per-request"`` (see the class doc)."""
        return str(self._backend.serialize)

    @serialize.setter
    def serialize(self, mode: str) -> None:
        self._backend.serialize = _check_serialize(mode)

    @property
    def execution_delay(self) -> float:
        return self._backend.jobs.execution_delay

    @execution_delay.setter
    def execution_delay(self, seconds: float) -> None:
        self._backend.jobs.execution_delay = float(seconds)

    def fail_query(
        self, query_id_or_sql_substring: int | str, error: str = 'relation "x" does not exist'
    ) -> None:
        """Make executions of a query id (or of SQL containing a text) fail with ``error``."""
        self._backend.fail_query(query_id_or_sql_substring, error)

    def clear_failures(self) -> None:
        self._backend.clear_failures()

    def wait_for_jobs(self, timeout: float = 30.0) -> None:
        """Block until every job has finished (tests)."""
        for job in self._backend.jobs.all():
            job.done.wait(timeout)

    # -- demo ------------------------------------------------------------------------------
    def load_demo(self) -> Any:
        """Load the deterministic DeFi demo (idempotent); returns ``lw.demo``."""
        from ._demo import load_demo

        if self._demo is None:
            self._demo = load_demo(self)
        return self._demo

    @property
    def demo(self) -> Any:
        """Ids of the demo content by stable names (see ``watch_pandas.testing._demo``)."""
        if self._demo is None:
            raise RuntimeError("no demo loaded: use LocalWatch(demo=True) or lw.load_demo()")
        return self._demo


def _check_serialize(mode: str) -> str:
    if mode not in SERIALIZE_MODES:
        raise ValueError(
            f"serialize must be one of {', '.join(map(repr, SERIALIZE_MODES))}, not {mode!r}"
        )
    return mode


def _check_port(port: int) -> int:
    # The socket layer would wrap 99999 to 34463 or pick a random port for 65536.
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ValueError(f"port must be a number from 0 to 65535 (0 = any free port), not {port!r}")
    return port


def bind_problem(host: str, port: int) -> tuple[str, str] | None:
    """Why the server could not listen on ``host``:``port``, as ``("host" or "port", reason)``;
    ``None`` when it can. Probed like the server binds (address reuse on), before it starts."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except (socket.gaierror, UnicodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        return "host", f"not a host name or address this machine has ({reason})"
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return (
                    "port",
                    "in use by another program; stop it or choose another port (0 = any free port)",
                )
            if exc.errno == errno.EACCES:
                return (
                    "port",
                    "not allowed for this user (ports below 1024 usually need root); "
                    "choose another port",
                )
            return "host", f"cannot listen there ({exc.strerror or exc})"
    return None


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def serve(
    host: str = "127.0.0.1",
    port: int = 5000,
    db: str | os.PathLike[str] | None = None,
    demo: bool = False,
    execution_delay: float = 0.0,
    stream: TextIO | None = None,
    *,
    stop_event: threading.Event | None = None,
    serialize: str = SERIALIZE_STORED,
    web_workers: int = 1,
) -> None:
    """Run a local Watch server in the foreground until Ctrl-C; prints its URL and admin key.

    ``stop_event`` (for tests and embedding) stops it when set. Binds to loopback unless
    ``host`` says otherwise; ``serialize`` and ``web_workers`` as in :class:`LocalWatch`.
    """
    stream = stream or sys.stdout
    lw = LocalWatch(
        db=db,
        demo=demo,
        execution_delay=execution_delay,
        host=host,
        port=port,
        serialize=serialize,
        web_workers=web_workers,
    )
    with lw:
        if not _is_loopback(host):
            # Said before the key is printed: anyone who can reach this address can use it.
            print(
                f"Warning: the server listens on {host}, so other machines that can reach this "
                "one can connect, and the admin key printed below gives full access. Use "
                "--host 127.0.0.1 unless that is what you want.",
                file=sys.stderr,
                flush=True,
            )
        print(f"Local Watch server running at {lw.url}", file=stream)
        print(f"Admin API key: {lw.admin_key}", file=stream)
        if demo:
            print(f"Demo queries: {lw.demo.queries}", file=stream)
        print("Press Ctrl-C to stop.", file=stream, flush=True)
        try:
            (stop_event or threading.Event()).wait()
        except KeyboardInterrupt:
            print("Stopped.", file=stream)
