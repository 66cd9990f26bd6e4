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

import contextlib
import functools
import multiprocessing
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.connection import Connection
from typing import Any

from . import _serialize as S
from ._store import StoredResult

CHUNK = 1 << 20
_WAIT = 0.05  # how often a request looks whether its helper ended without a body
# A reader that takes nothing for this long loses its connection and frees its web worker
# (Redash's gunicorn gives a silent worker 30 s by default).
SEND_TIMEOUT = 30.0


def check_web_workers(value: object) -> int:
    """``value`` when it is a whole number >= 1, else a ValueError saying what is."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(
            f"web_workers must be a whole number ≥ 1 (1 builds every body in the server's own "
            f"process), not {value!r}."
        )
    return value


def build_and_pass_on(
    result: StoredResult, trimmed: bool, pipe: Connection, send_timeout: float
) -> None:
    """In a helper process: the body built whole and its length sent through ``pipe``; then,
    as the request's thread asks, the body written to the socket it hands over (and "sent"
    said), or its bytes sent through ``pipe`` (a chunk per message, an empty one last).
    A request whose reader hung up, stopped reading for ``send_timeout`` seconds, or needs no
    body (HEAD), drops it."""
    try:
        parts = S.result_json_rendered_parts(result, trimmed=trimmed)
        pipe.send(sum(map(len, parts)))
        where = pipe.recv()
        if isinstance(where, socket.socket):
            # whatever mode the server's socket was in (a default timeout makes it
            # non-blocking), this copy waits for the reader, up to the timeout
            where.settimeout(send_timeout)
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


class HandedSockets:
    """The sockets helpers are writing to, so that closing the server can cut them off."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()

    def add(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.add(sock)

    def discard(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.discard(sock)

    def cut_off(self) -> None:
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


class PassedOnBody:
    """A body a helper is passing on: ``size`` once built, then its bytes as iterated; closed
    (which lets the helper drop the rest) after the last chunk or by the WSGI server."""

    def __init__(self, future: Future[None], pipe: Connection, handed: HandedSockets) -> None:
        self._pipe = pipe
        self._handed = handed
        try:
            while not pipe.poll(_WAIT):
                if future.done() and not pipe.poll():
                    future.result()  # the helper's error is the request's
                    raise RuntimeError("a web worker ended without building the body")
            self.size: int = pipe.recv()
        except BaseException:
            pipe.close()
            raise

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
            self._handed.add(sock)
            self._pipe.send(sock)
            if self._pipe.recv() != "sent":
                raise ConnectionAbortedError("the reader hung up or stopped reading")
        except EOFError:  # the helper is gone (the server is closing)
            raise ConnectionAbortedError("the web worker stopped") from None
        finally:
            self._handed.discard(sock)
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
        self.send_timeout = SEND_TIMEOUT
        self.built_elsewhere = 0  # bodies built by a helper process (tests read it)
        self._lock = threading.Lock()
        self._start_lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None
        self._handed = HandedSockets()

    def start(self) -> ProcessPoolExecutor | None:
        """Start the helper processes now, so that no request waits for them to start."""
        with self._start_lock:
            if self.web_workers > 1 and self._pool is None:
                context = multiprocessing.get_context("spawn")
                pool = ProcessPoolExecutor(self.web_workers, mp_context=context)
                futures = [pool.submit(_ready) for _ in range(self.web_workers)]
                for future in futures:
                    future.result()
                self._pool = pool
            return self._pool

    def close(self) -> None:
        self._handed.cut_off()  # helpers writing to stalled readers stop at once
        with self._start_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def _drop(self, pool: ProcessPoolExecutor) -> None:
        """A pool one of whose helpers died (killed, out of memory): the next request starts
        a new one."""
        with self._start_lock:
            if self._pool is pool:
                self._pool = None
        pool.shutdown(wait=False, cancel_futures=True)

    def render_json(self, result: StoredResult, *, trimmed: bool) -> tuple[Iterable[bytes], int]:
        """The body (an iterable of bytes) and its length: built here with one web worker,
        else by a helper process."""
        if self.web_workers == 1:
            parts = S.result_json_rendered_parts(result, trimmed=trimmed)
            return parts, sum(map(len, parts))
        ours, helpers = multiprocessing.Pipe()
        pool = self._pool_of_helpers()
        job = functools.partial(build_and_pass_on, result, trimmed, helpers, self.send_timeout)
        try:
            try:
                future = pool.submit(job)
            except BrokenProcessPool:  # a helper died since the last request: start anew
                self._drop(pool)
                pool = self._pool_of_helpers()
                future = pool.submit(job)
            body = PassedOnBody(future, ours, self._handed)
        except BrokenProcessPool:  # this body's helper died; the next request starts anew
            self._drop(pool)
            raise
        finally:
            helpers.close()  # the helper holds its own copy by now (or never will)
        with self._lock:
            self.built_elsewhere += 1
        return body, body.size

    def _pool_of_helpers(self) -> ProcessPoolExecutor:
        pool = self.start()
        assert pool is not None
        return pool
