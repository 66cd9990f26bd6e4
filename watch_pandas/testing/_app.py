"""The WSGI entry point: match the route, authenticate the caller, call the handler, reply.

Behaviour follows docs/protocol.md (what a running server was seen to do first). Handlers
(``_handlers``) raise ``Refusal`` to answer early; any other exception becomes 500
``{"message": "Internal Server Error"}`` as on the real server.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from werkzeug.exceptions import HTTPException, InternalServerError, MethodNotAllowed, NotFound
from werkzeug.wrappers import Request, Response

from ._backend import NOT_FOUND, Backend, Caller, Refusal
from ._handlers.common import json_response
from ._routes import Route, url_map


class WatchApp:
    """The HTTP face of one local Watch server's ``Backend`` (a WSGI callable)."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._map = url_map()

    def route_of(self, method: str, path: str) -> str:
        """Route template of a request (for counters); the path itself when nothing matches."""
        try:
            route, _ = self._map.bind("localhost").match(path, method=method)
        except HTTPException:
            return path
        return route.template

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        request = Request(environ)
        try:
            response = self._dispatch(request)
        except Refusal as refusal:
            response = json_response(refusal.body(), refusal.status)
        except NotFound:
            response = self._unmatched(request)
        except MethodNotAllowed:
            response = json_response(
                {"message": "The method is not allowed for the requested URL."}, 405
            )
        except Exception:  # noqa: BLE001 - the real server's generic 500
            response = json_response({"message": "Internal Server Error"}, 500)
        return response(environ, start_response)

    def _unmatched(self, request: Request) -> Response:
        """A path no route serves. Under ``/api/`` a real server asks an unknown caller to log
        in, and answers a known one with its HTML 500 page (docs/protocol.md#error-answers)."""
        if not request.path.startswith("/api/"):
            return json_response({"message": NOT_FOUND}, 404)
        try:
            self._caller_key(request, None)
        except Refusal as refusal:
            return json_response(refusal.body(), refusal.status)
        return html_server_error()

    def _dispatch(self, request: Request) -> Response:
        route: Route
        route, values = self._map.bind_to_environ(request.environ).match()
        caller = self._authenticate(request, route, values) if route.login else Caller(None)
        return route.handler(self.backend, request, caller, **values)

    def _authenticate(self, request: Request, route: Route, values: Mapping[str, Any]) -> Caller:
        query_id = values.get("query_id") if route.query_key_ok else None
        return self._caller_key(request, query_id)

    def _caller_key(self, request: Request, query_id: Any) -> Caller:
        key = request.args.get("api_key")
        if not key:
            header = request.headers.get("Authorization")
            key = header.replace("Key ", "", 1) if header else None
        return self.backend.caller_with_key(key, query_id)


def html_server_error() -> Response:
    """Werkzeug's own 500 page, which a real server sends when no API resource handled the
    request (``text/html; charset=utf-8``)."""
    error = InternalServerError()
    return Response(error.get_body(), status=500, content_type="text/html; charset=utf-8")
