"""Fault injection and request counters for the local server (reliability tests).

Faults apply to the next N requests that match an optional path (exact, or a shell pattern such
as ``/api/jobs/*``) and method; they are consumed in the order they were armed. Counters count
every request (faulted ones too) by method and route template, e.g.
``("POST", "/api/queries/<id>/results")``; every path variable reads ``<id>`` except ``<ext>``.
"""

from __future__ import annotations

import fnmatch
import json
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

_LOGIN_PAGE = (
    b"<!DOCTYPE html><html><head><title>Login to Redash</title></head>"
    b"<body><form method='post' action='/login'><input name='email'>"
    b"<input name='password' type='password'><button>Log In</button></form></body></html>"
)


@dataclass
class _Fault:
    kind: str
    remaining: int
    path: str | None
    method: str | None
    status: int = 503
    retry_after: float | int | None = None
    body: Any = None
    seconds: float = 0.0

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        if self.path is None:
            return True
        return path == self.path or fnmatch.fnmatchcase(path, self.path)


class Faults:
    """Arm faults for the next requests: ``lw.faults.fail_next(2, status=503, retry_after=1)``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[_Fault] = []

    def _arm(self, fault: _Fault) -> None:
        if fault.remaining < 1:
            raise ValueError(f"n must be a positive number of requests, got {fault.remaining}")
        with self._lock:
            self._faults.append(fault)

    def fail_next(
        self,
        n: int = 1,
        status: int = 503,
        retry_after: float | int | None = None,
        path: str | None = None,
        method: str | None = None,
        body: Any = None,
    ) -> None:
        """Answer the next ``n`` matching requests with ``status`` (JSON ``body`` if given)."""
        self._arm(
            _Fault("fail", n, path, method, status=status, retry_after=retry_after, body=body)
        )

    def hang_next(
        self, n: int = 1, seconds: float = 1.0, path: str | None = None, method: str | None = None
    ) -> None:
        """Delay the next ``n`` matching requests by ``seconds`` before answering normally."""
        self._arm(_Fault("hang", n, path, method, seconds=seconds))

    def reset_next(self, n: int = 1, path: str | None = None, method: str | None = None) -> None:
        """Send part of the body of the next ``n`` matching replies, then reset the connection."""
        self._arm(_Fault("reset", n, path, method))

    def truncate_next(self, n: int = 1, path: str | None = None, method: str | None = None) -> None:
        """Announce the full Content-Length but send only part of the body, then close."""
        self._arm(_Fault("truncate", n, path, method))

    def html_next(self, n: int = 1, path: str | None = None, method: str | None = None) -> None:
        """Answer the next ``n`` matching requests with a 200 HTML login page."""
        self._arm(_Fault("html", n, path, method))

    def clear(self) -> None:
        """Disarm every pending fault."""
        with self._lock:
            self._faults.clear()

    @property
    def pending(self) -> int:
        """How many faulted requests are still armed."""
        with self._lock:
            return sum(f.remaining for f in self._faults)

    def take(self, method: str, path: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
        return None


class Counters:
    """Request counts per (method, route template) and the number of executions started."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: Counter[tuple[str, str]] = Counter()
        self._executions = 0

    def count_request(self, method: str, route: str) -> None:
        with self._lock:
            self._requests[(method.upper(), route)] += 1

    def count_execution(self) -> None:
        with self._lock:
            self._executions += 1

    def requests(self, method: str | None = None, route: str | None = None) -> int:
        """Requests seen, optionally only for one method and/or route template."""
        with self._lock:
            return sum(
                n
                for (m, r), n in self._requests.items()
                if (method is None or m == method.upper()) and (route is None or r == route)
            )

    @property
    def executions(self) -> int:
        """Jobs created (cache hits and deduplicated POSTs create none)."""
        with self._lock:
            return self._executions

    def snapshot(self) -> dict[str, Any]:
        """Everything counted so far, e.g. for a failure message."""
        with self._lock:
            return {
                "requests": {f"{m} {r}": n for (m, r), n in sorted(self._requests.items())},
                "executions": self._executions,
            }

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            self._executions = 0


class FaultMiddleware:
    """WSGI middleware: count the request, then apply an armed fault or call the app."""

    def __init__(
        self,
        app: Callable,
        faults: Faults,
        counters: Counters,
        route_of: Callable[[str, str], str],
    ) -> None:
        self.app = app
        self.faults = faults
        self.counters = counters
        self.route_of = route_of

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "")
        self.counters.count_request(method, self.route_of(method, path))
        fault = self.faults.take(method, path)
        if fault is None:
            return self.app(environ, start_response)
        if fault.kind == "hang":
            time.sleep(fault.seconds)
            return self.app(environ, start_response)
        if fault.kind == "fail":
            body = fault.body if fault.body is not None else {"message": "Service Unavailable"}
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            headers = [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
            if fault.retry_after is not None:
                headers.append(("Retry-After", str(fault.retry_after)))
            start_response(f"{fault.status} Injected", headers)
            return [data]
        if fault.kind == "html":
            headers = [
                ("Content-Type", "text/html; charset=UTF-8"),
                ("Content-Length", str(len(_LOGIN_PAGE))),
            ]
            start_response("200 OK", headers)
            return [_LOGIN_PAGE]
        return self._cut(environ, start_response, abrupt=fault.kind == "reset")

    def _cut(self, environ: dict, start_response: Callable, *, abrupt: bool) -> Iterable[bytes]:
        """Run the app, keep its headers, send half of its body and drop the connection."""
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list, exc_info: Any = None) -> Callable:
            captured["status"], captured["headers"] = status, headers
            return lambda data: None

        body = b"".join(self.app(environ, capture))
        headers = [(k, v) for k, v in captured["headers"] if k.lower() != "content-length"]
        headers.append(("Content-Length", str(len(body))))
        headers.append(("Connection", "close"))
        start_response(captured["status"], headers)
        sock: socket.socket | None = environ.get("werkzeug.socket")

        def chunks() -> Iterable[bytes]:
            yield body[: max(1, len(body) // 2)]
            if sock is not None:
                if abrupt:  # RST instead of FIN
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    sock.close()
                else:
                    sock.shutdown(socket.SHUT_RDWR)

        return chunks()
