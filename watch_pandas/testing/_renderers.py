"""Per-request result bodies made by web worker processes, as a real server's are.

In ``serialize="per-request"`` mode a JSON result body is built whole before its first byte
(:func:`._serialize.result_json_rendered`: every stored row loaded and json-dumped). Redash
does that in one of several web worker processes, each building its own request's body while
the others build theirs, and writes it to the request's connection. ``LocalWatch(web_workers=N)``
does the same with ``N`` helper processes: every such body is built by one of them, which
tells the request's thread its length (for the headers, which that thread sends), is then
handed the connection's socket and writes the body to it (:func:`send_through_sockets`);
where it cannot be handed the socket (a fault cutting the answer short) it passes the bytes
on through its pipe. The server's own process only speaks HTTP, so it never holds the
interpreter building one body while another request waits to be answered, and no body's
bytes go through it. With one web worker (the default) every body is built in the server's
own process, a batch of rows at a time.

The helpers are started with ``spawn`` (portable, and safe beside the server's threads): as
``multiprocessing`` requires, a script that starts such a server does so under
``if __name__ == "__main__":``.
"""

from __future__ import annotations

import multiprocessing
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from multiprocessing.connection import Connection
from typing import Any

from . import _serialize as S
from ._store import StoredResult

CHUNK = 1 << 20
_WAIT = 0.05  # how often a request looks whether its helper ended without a body


def check_web_workers(value: object) -> int:
    """``value`` when it is a whole number >= 1, else a ValueError saying what is."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(
            f"web_workers must be a whole number ≥ 1 (1 builds every body in the server's own "
            f"process), not {value!r}."
        )
    return value


def build_and_pass_on(result: StoredResult, trimmed: bool, pipe: Connection) -> None:
    """In a helper process: the body built whole and its length sent through ``pipe``; then,
    as the request's thread asks, the body written to the socket it hands over (and "sent"
    said), or its bytes sent through ``pipe`` (a chunk per message, an empty one last).
    A request whose reader hung up, or that needs no body (HEAD), drops it."""
    try:
        parts = S.result_json_rendered_parts(result, trimmed=trimmed)
        pipe.send(sum(map(len, parts)))
        where = pipe.recv()
        if isinstance(where, socket.socket):
            with where:
                try:
                    for part in parts:
                        where.sendall(part)
                except OSError:
                    pipe.send("hung up")
                    return
            pipe.send("sent")
            return
        for part in parts:
            for start in range(0, len(part), CHUNK):
                pipe.send_bytes(part, start, min(CHUNK, len(part) - start))
        pipe.send_bytes(b"")
    except (EOFError, BrokenPipeError, ConnectionResetError):
        pass
    finally:
        pipe.close()


def _ready() -> int:
    return 0


class PassedOnBody:
    """A body a helper is passing on: ``size`` once built, then its bytes as iterated; closed
    (which lets the helper drop the rest) after the last chunk or by the WSGI server."""

    def __init__(self, future: Future[None], pipe: Connection, helpers_end: Connection) -> None:
        self._pipe = pipe
        try:
            while not pipe.poll(_WAIT):
                if future.done() and not pipe.poll():
                    future.result()  # the helper's error is the request's
                    raise RuntimeError("a web worker ended without building the body")
            self.size: int = pipe.recv()
        except BaseException:
            pipe.close()
            raise
        finally:
            helpers_end.close()  # the helper holds its own copy by now

    def __iter__(self) -> Iterator[bytes]:
        try:
            self._pipe.send("pipe")
            while chunk := self._pipe.recv_bytes():
                yield chunk
        finally:
            self.close()

    def sent_through(self, sock: socket.socket) -> Iterator[bytes]:
        """For the WSGI server: an empty first piece (the status and headers go out), then
        the body written to ``sock`` by the helper."""
        try:
            yield b""
            self._pipe.send(sock)
            if self._pipe.recv() != "sent":
                raise ConnectionAbortedError("the reader hung up")
        finally:
            self.close()

    def close(self) -> None:
        self._pipe.close()


def send_through_sockets(app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    """WSGI middleware: a :class:`PassedOnBody` answer is written by its helper to the
    connection's socket (werkzeug's ``werkzeug.socket``); any other answer, or one a fault
    wrapped, goes out as it is."""

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        body = app(environ, start_response)
        sock = environ.get("werkzeug.socket")
        if isinstance(body, PassedOnBody) and type(sock) is socket.socket:  # not TLS
            return body.sent_through(sock)
        return body

    return wsgi


class Renderers:
    """The web workers of one server (see the module doc)."""

    def __init__(self, web_workers: int = 1) -> None:
        self.web_workers = check_web_workers(web_workers)
        self.built_elsewhere = 0  # bodies built by a helper process (tests read it)
        self._lock = threading.Lock()
        self._start_lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None

    def start(self) -> None:
        """Start the helper processes now, so that no request waits for them to start."""
        with self._start_lock:
            if self.web_workers > 1 and self._pool is None:
                context = multiprocessing.get_context("spawn")
                pool = ProcessPoolExecutor(self.web_workers, mp_context=context)
                futures = [pool.submit(_ready) for _ in range(self.web_workers)]
                for future in futures:
                    future.result()
                self._pool = pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def render_json(self, result: StoredResult, *, trimmed: bool) -> tuple[Iterable[bytes], int]:
        """The body (an iterable of bytes) and its length: built here with one web worker,
        else by a helper process."""
        if self.web_workers == 1:
            parts = S.result_json_rendered_parts(result, trimmed=trimmed)
            return parts, sum(map(len, parts))
        self.start()
        assert self._pool is not None
        ours, helpers = multiprocessing.Pipe()
        future = self._pool.submit(build_and_pass_on, result, trimmed, helpers)
        body = PassedOnBody(future, ours, helpers)
        with self._lock:
            self.built_elsewhere += 1
        return body, body.size
