"""The error tree of watch_pandas.

Every error a user can meet derives from :class:`WatchError`; subclasses are grouped by
what the user can do about them::

    WatchError
    ├── ConfigError            no URL/key configured, unreadable config file, bad argument
    ├── AuthError              bad or missing key (the server answers 404 "Please login")
    │   └── ForbiddenError     authenticated, but not allowed (403; query key on a user-key route)
    ├── NotFoundError          no such query / result / dashboard / job
    ├── ParameterError         a parameter name or value the query's definitions reject
    ├── ConflictError          an edit lost an optimistic-locking race (409, stale ``version``)
    ├── QueryFailedError       the server ran the query and the database said no
    ├── QueryCancelledError    the job was cancelled (by us on timeout/Ctrl-C, or by someone else)
    ├── WatchTimeoutError      the overall deadline passed (the job was cancelled on the server)
    ├── LossyFormatError       a download format cannot represent this result faithfully
    ├── DashboardError         widgets of a dashboard failed (.frames has the ones that worked)
    ├── SweepError             parts of a sweep failed (.frame has the rows of those that worked)
    └── ServerError            5xx, or a response we cannot understand
        └── TransportError     connection refused/reset, read timeout, truncated body

Messages name the query (id and URL) and say what would be right; they never contain an API key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "WatchError",
    "ConfigError",
    "AuthError",
    "ForbiddenError",
    "NotFoundError",
    "ParameterError",
    "ConflictError",
    "QueryFailedError",
    "QueryCancelledError",
    "WatchTimeoutError",
    "LossyFormatError",
    "ServerError",
    "TransportError",
    "DashboardError",
    "SweepError",
    "one_line",
]


class WatchError(Exception):
    """Root of every watch_pandas error.

    Attributes are optional context: ``status_code`` (HTTP status, if any), ``url`` (the
    request URL, never with a key), ``query_id`` and ``job_id``.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        url: str | None = None,
        query_id: int | None = None,
        job_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.url = url
        self.query_id = query_id
        self.job_id = job_id

    def __str__(self) -> str:
        return self.message


class ConfigError(WatchError, ValueError):
    """Missing or invalid configuration (URL, API key, profile, config file)."""


class AuthError(WatchError):
    """The server did not accept the API key (Redash answers a bad key with 404 "Please login")."""


class ForbiddenError(AuthError):
    """The key is valid but may not do this (403, or a query key on a user-key-only route)."""


class NotFoundError(WatchError, LookupError):
    """The query, result, dashboard or job does not exist (or is not visible to this key)."""


class ParameterError(WatchError, ValueError):
    """A parameter name or value does not fit the query's parameter definitions.

    ``name`` is the parameter, ``value`` what was given, ``allowed`` a description of what
    would be accepted (enum options, a date format...).
    """

    def __init__(
        self,
        message: str,
        *,
        name: str | None = None,
        value: object = None,
        allowed: str | None = None,
        **context: object,
    ) -> None:
        super().__init__(message, **context)  # type: ignore[arg-type]
        self.name = name
        self.value = value
        self.allowed = allowed


class ConflictError(WatchError):
    """The object changed on the server since it was read (409 on a stale ``version``)."""


class QueryFailedError(WatchError):
    """The query ran and failed; ``server_message`` is the database's or server's own text."""

    def __init__(self, message: str, *, server_message: str = "", **context: object) -> None:
        super().__init__(message, **context)  # type: ignore[arg-type]
        self.server_message = server_message


class QueryCancelledError(WatchError):
    """The job was cancelled before it produced a result."""


class WatchTimeoutError(WatchError, TimeoutError):
    """The overall deadline passed, or a retry would have waited past it (a long
    ``Retry-After``); the server job (if any) was cancelled first."""


class LossyFormatError(WatchError):
    """A download format (CSV/TSV) cannot represent this result without losing values or types."""


class DashboardError(WatchError):
    """Some (``errors="raise"``) or all widgets of a dashboard failed.

    ``frames`` holds the widgets that worked (title → DataFrame), ``errors`` the failures.
    """

    def __init__(
        self,
        message: str,
        *,
        frames: Mapping[str, Any],
        errors: Mapping[str, Exception],
    ) -> None:
        super().__init__(message)
        self.frames = dict(frames)
        self.errors = dict(errors)


class SweepError(WatchError):
    """Some (``errors="raise"``) or all parts of a sweep failed.

    ``frame`` holds the rows of the parts that worked (swept columns included; a table when
    the sweep was read with ``output="arrow"`` or ``"polars"``), ``errors`` the failures by
    part label.
    """

    def __init__(self, message: str, *, frame: Any, errors: Mapping[str, Exception]) -> None:
        super().__init__(message)
        self.frame = frame
        self.errors = dict(errors)


class ServerError(WatchError):
    """The server failed (5xx) or answered something that is not the documented API."""


class TransportError(ServerError):
    """The connection failed: refused, reset, timed out, or the body was cut short."""


def one_line(exc: BaseException, *, config_hint: str = "") -> str:
    """``exc`` as one line for a terminal or a magic: multi-line help is cut to its first
    sentence, and a :class:`ConfigError` gets ``config_hint`` (how to configure, in that UI)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    first = lines[0]
    if len(lines) == 1:
        return first
    if first.endswith(":") and ". " in first:
        first = first.rsplit(". ", 1)[0] + "."
    if isinstance(exc, ConfigError) and config_hint:
        first += " " + config_hint
    return first
