"""The base of :class:`~watch_pandas._client.WatchClient`: session, key auth and ``_request``.

The key travels only in the ``Authorization: Key …`` header of each request (never in a URL we
build), through :class:`~watch_pandas._client._key.KeyAuth`. Every request goes through
:meth:`BaseClient._request`, which maps any HTTP or transport failure to a
:mod:`watch_pandas.errors` type (:mod:`watch_pandas._http`) and records what a success proves
about the key's kind. The resource classes (queries, execution, dashboards, meta) build on it.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from .. import __version__
from .._config import resolve_config
from .._deadline import DEADLINE_SLACK, DeadlineReached, time_left
from .._http import (
    again_if_body_breaks,
    broken_body_error,
    check_not_login_page,
    deadline_error,
    decode_json,
    expect_dict,
    http_error,
    request_line,
    retry_deadline_error,
    retry_policy,
    timeout_within_deadline,
    transport_error,
)
from ..errors import ConfigError, ForbiddenError, ServerError, WatchError
from ..models import Page, Query
from ._args import check_page_size, check_timeout
from ._key import KEY_KINDS, KeyAuth, KeyKind, KeyKindState

log = logging.getLogger("watch_pandas.client")

_Self = TypeVar("_Self", bound="BaseClient")


class BaseClient:
    """The connection every resource class shares (see :class:`WatchClient` for arguments)."""

    def __init__(
        self,
        url: str | None = None,
        api_key: str | None = None,
        *,
        profile: str | None = None,
        timeout: float | tuple[float, float] = (10, 300),
        retries: int = 3,
        backoff_factor: float = 0.5,
        session: requests.Session | None = None,
        key_kind: KeyKind = "auto",
    ) -> None:
        if key_kind not in KEY_KINDS:
            raise ConfigError(f"key_kind must be 'auto', 'user' or 'query', not {key_kind!r}.")
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ConfigError(f"retries must be an integer >= 0, not {retries!r}.")
        if not isinstance(backoff_factor, (int, float)) or backoff_factor < 0:
            raise ConfigError(f"backoff_factor must be a number >= 0, not {backoff_factor!r}.")
        config = resolve_config(url, api_key, profile)
        self.url: str = config.url
        self.profile = config.profile
        self.timeout = check_timeout(timeout)
        self.retries = retries
        self._backoff_factor = float(backoff_factor)
        self._kind = KeyKindState(key_kind)
        self._owns_session = session is None
        self.session = session if session is not None else requests.Session()
        # The key travels per request (auth=), never on the session: a session the caller
        # passed in stays theirs, and its headers never show the key. An explicit auth= also
        # stops requests from replacing our header with ~/.netrc credentials for the host.
        self._auth = KeyAuth(config.api_key)
        self._headers = {"User-Agent": f"watch-pandas/{__version__}", "Accept": "application/json"}
        if self._owns_session:
            adapter = HTTPAdapter(max_retries=retry_policy(retries, backoff_factor))
            self.session.mount("https://", adapter)
            self.session.mount("http://", adapter)
        self._init_state()

    # -- housekeeping ----------------------------------------------------------------------
    def __repr__(self) -> str:
        return f"WatchClient(url={self.url!r}, key_kind={self.key_kind!r})"

    def close(self) -> None:
        """Close the HTTP session (only if this client created it)."""
        if self._owns_session:
            self.session.close()

    def __enter__(self: _Self) -> _Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def key_kind(self) -> KeyKind:
        """``"user"`` or ``"query"`` once known (configured or detected), else ``"auto"``."""
        return self._kind.kind

    def is_query_key_for(self, query: Query) -> bool:
        """True when this client's key is ``query``'s own API key (a query key).

        Only a check: reading the query (:meth:`get_query`) is what settles an ``"auto"``
        key's kind (a key that could read the query but is not its key is a user key).
        """
        if not query.api_key:
            return self._kind.configured == "query"
        return self._auth.is_key(query.api_key)

    def _record_key_kind(self, query: Query) -> None:
        """Settle an ``"auto"`` key's kind from ``query``, which this key could read."""
        if query.api_key:
            self._kind.record_query(query.id, is_its_key=self.is_query_key_for(query))

    def _init_state(self) -> None:
        """Set up what a resource learns from the server; each resource class extends it
        (calling ``super()``) and guards its own state, since threads may share a client."""

    # -- plumbing --------------------------------------------------------------------------
    def _require_user_key(self, action: str) -> None:
        if self.key_kind == "query":
            raise ForbiddenError(
                f"Cannot {action} with a query API key; a query key only reads and runs its "
                "own query. Use a user API key (from your Watch profile page)."
            )

    def _page(
        self,
        resource: str,
        page: int,
        page_size: int,
        q: str | None,
        tags: Sequence[str] | str | None,
        order: str | None,
        action: str,
    ) -> Page:
        self._require_user_key(action)
        if isinstance(page, bool) or not isinstance(page, int) or page < 1:
            raise ConfigError(f"page must be a positive integer, not {page!r}.")
        check_page_size(page_size)
        params: dict[str, Any] = {"page": page, "page_size": page_size}
        if q:
            params["q"] = q
        if tags:
            params["tags"] = [tags] if isinstance(tags, str) else list(tags)
        if order:
            params["order"] = order
        data = expect_dict(
            self._json("GET", resource, params=params, what=resource, user_only=True), "a page"
        )
        try:
            return Page(
                count=int(data["count"]),
                page=int(data.get("page", page)),
                page_size=int(data.get("page_size", page_size)),
                results=list(data["results"]),
            )
        except (KeyError, TypeError, ValueError):
            raise ServerError(
                f"GET /api/{resource} did not answer a page envelope (count/results)."
            ) from None

    def _paginate(
        self,
        resource: str,
        q: str | None,
        tags: Sequence[str] | str | None,
        order: str | None,
        page_size: int,
        limit: int | None,
        action: str,
    ) -> Iterator[dict[str, Any]]:
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int) or limit < 0
        ):
            raise ConfigError(f"limit must be a non-negative integer or None, not {limit!r}.")
        check_page_size(page_size)
        if limit is not None:
            page_size = max(1, min(page_size, limit))
        yielded = 0
        page_number = 1
        last_page = 1
        while page_number <= last_page and (limit is None or yielded < limit):
            page = self._page(resource, page_number, page_size, q, tags, order, action)
            # Never ask past ceil(count / page_size): the server answers that with a 400.
            last_page = max(1, math.ceil(page.count / page_size))
            for item in page.results:
                if limit is not None and yielded >= limit:
                    return
                yielded += 1
                yield item
            if not page.results:
                return
            page_number += 1

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._request(method, path, **kwargs)
        return decode_json(response, method, path, self._redact)

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        what: str | None = None,
        user_only: bool = False,
        detect_user: bool | None = None,
        query_id: int | None = None,
        job_id: str | None = None,
        sent_parameters: Mapping[str, Any] | None = None,
        stream: bool = False,
    ) -> requests.Response:
        """Send one request; return the 2xx response or raise the fitting WatchError.

        Without ``stream`` the body is read here, and a safe request whose body breaks off
        is sent again (urllib3 only retries failures before the response headers).
        """
        context = {"query_id": query_id, "job_id": job_id}

        def send() -> requests.Response:
            return self._send(
                method,
                path,
                context,
                params=params,
                body=body,
                what=what,
                user_only=user_only,
                detect_user=detect_user,
                sent_parameters=sent_parameters,
                stream=stream,
            )

        if stream:
            return send()
        return again_if_body_breaks(send, method, self._retry_policy())

    def _send(
        self,
        method: str,
        path: str,
        context: dict[str, Any],
        *,
        params: Mapping[str, Any] | None,
        body: Any,
        what: str | None,
        user_only: bool,
        detect_user: bool | None,
        sent_parameters: Mapping[str, Any] | None,
        stream: bool,
    ) -> requests.Response:
        url = f"{self.url}/api/{path}"
        timeout = timeout_within_deadline(self.timeout, method, path, context)
        started = time.monotonic()
        try:
            response = self.session.request(
                method,
                url,
                params=params,
                json=body if method in ("POST", "PUT") else None,
                headers=self._headers,
                auth=self._auth,
                timeout=timeout,
                # A redirect turns a POST into a GET (docs/protocol.md#redirects): refuse it.
                allow_redirects=method != "POST",
                # The body is read below, so that a body breaking off is told apart from a
                # request that failed before the headers (which urllib3 already retried).
                stream=True,
            )
        except DeadlineReached as reached:
            raise retry_deadline_error(reached, request_line(method, path), context) from None
        except requests.RequestException as exc:
            left = time_left()
            if left is not None and left <= DEADLINE_SLACK:
                raise deadline_error(method, path, context) from None
            raise self._transport_error(exc, method, path, context) from None
        if not stream:
            self._read_body(response, method, path, context)
        elapsed = time.monotonic() - started
        log.debug("%s %s -> %s in %.3fs", method, urlsplit(url).path, response.status_code, elapsed)
        if response.ok and not response.is_redirect:
            check_not_login_page(response, method, path, context, url=self.url)
            # Success on a user-key-only route proves a user key (``detect_user`` opts out).
            if user_only if detect_user is None else detect_user:
                self._kind.record_user_route()
            return response
        try:
            raise http_error(
                response,
                method,
                path,
                what=what,
                user_only=user_only,
                sent_parameters=sent_parameters,
                context=context,
                url=self.url,
                key_kind=self._kind.configured,
                retries=self.retries,
                redact=self._redact,
            )
        finally:
            response.close()

    def _read_body(
        self, response: requests.Response, method: str, path: str, context: dict[str, Any]
    ) -> None:
        """Read the whole body now (``response.content`` keeps it)."""
        try:
            response.content  # noqa: B018 - reading is the point
        except requests.RequestException as exc:
            response.close()
            left = time_left()
            if left is not None and left <= DEADLINE_SLACK:
                raise deadline_error(method, path, context) from None
            raise self._body_error(exc, method, path, context) from None

    def _redact(self, text: str) -> str:
        return self._auth.redact(text)

    def _transport_error(
        self, exc: requests.RequestException, method: str, path: str, context: dict[str, Any]
    ) -> WatchError:
        """The error for a failed request or body read (this client's URL, retries, timeout)."""
        return transport_error(
            exc,
            method,
            path,
            context,
            url=self.url,
            retries=self.retries,
            read_timeout=self.timeout[1],
        )

    def _body_error(
        self, exc: requests.RequestException, method: str, path: str, context: dict[str, Any]
    ) -> WatchError:
        """The error for a body that broke off after the headers (see :meth:`_request`)."""
        return broken_body_error(exc, method, path, context, read_timeout=self.timeout[1])

    def _retry_policy(self) -> Retry:
        """A fresh count of this client's retries, for bodies that break off."""
        return retry_policy(self.retries, self._backoff_factor)
