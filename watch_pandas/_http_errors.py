"""Error mapping for the transport (:mod:`watch_pandas._http`): a failed response or a
``requests`` exception becomes the fitting :mod:`watch_pandas.errors` type, whose message names
the method and path and says what would be right (:func:`http_error`, :func:`transport_error`,
:func:`broken_body_error`, :func:`check_not_login_page`, :func:`decode_json`,
:func:`wire_model`).

Nothing here sees the API key: text the server may echo is passed through the client's
``redact`` callable. Package-internal: ``_http`` re-exports the names ``_client/`` and
``_body.py`` use, so this module imports nothing from it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)

from . import _wording
from ._config import page_like_base
from ._params import adhoc_params_hint
from .errors import (
    AuthError,
    ConfigError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    ParameterError,
    QueryFailedError,
    ServerError,
    TransportError,
    WatchError,
)

_LOGIN_TEXT = "please login"


def request_line(method: str, path: str) -> str:
    """The request as messages name it: "GET /api/queries/1" (no query string, e.g. ?legacy)."""
    return f"{method} /api/{urlsplit(path).path}"


# The retry policy (_http) repeats a POST on exactly this answer, and http_error says so: it
# lives here so that the two agree without this module importing _http.
def _post_refused(status_code: int) -> bool:
    """429 Too Many Requests: the server refused the request without processing it (RFC 6585
    §4), so sending the POST again cannot start a second execution. 5xx are never repeated
    for a POST: a gateway (502/504) or a busy proxy (503) may have passed it on already."""
    return status_code == 429


# -- error mapping: exceptions -------------------------------------------------------------
def transport_error(
    exc: requests.RequestException,
    method: str,
    path: str,
    context: dict[str, Any],
    *,
    url: str,
    retries: int,
    read_timeout: float,
) -> WatchError:
    """The :class:`TransportError` (or :class:`ServerError`) for a failed ``requests`` call."""
    if _broke_off(exc):
        return broken_body_error(exc, method, path, context, read_timeout=read_timeout).final()
    at = request_line(method, path)
    # After urllib3 gave up retrying, requests wraps the real cause in MaxRetryError.
    reason = exc.args[0].reason if exc.args and isinstance(exc.args[0], MaxRetryError) else exc
    retried = f" (after {retries} retries)" if retries else ""
    if isinstance(exc, requests.exceptions.SSLError) or isinstance(reason, SSLError):
        advice = (
            "TLS/certificate problem: check the URL's host name, or point REQUESTS_CA_BUNDLE "
            "at your organisation's CA bundle."
        )
    elif isinstance(exc, requests.exceptions.ReadTimeout) or isinstance(reason, ReadTimeoutError):
        advice = (
            f"the server did not answer within the read timeout ({read_timeout:g} s)"
            f"{retried}; raise timeout= (e.g. timeout=(10, 900)) for big results, or try "
            "again later."
        )
    elif isinstance(reason, NewConnectionError) or (
        isinstance(exc, requests.ConnectionError)
        and not isinstance(exc, requests.exceptions.ConnectTimeout)
        and not isinstance(reason, (ConnectTimeoutError, ProtocolError))
    ):
        advice = (
            f"could not connect to {url}{retried}: check the URL, your network/VPN, "
            "and that the server is up."
        )
    elif isinstance(exc, requests.exceptions.ConnectTimeout) or isinstance(
        reason, ConnectTimeoutError
    ):
        advice = (
            f"timed out while connecting{retried}: check the URL, VPN/firewall, and that "
            "the server is up."
        )
    elif isinstance(reason, ProtocolError):
        advice = (
            f"the connection was closed or reset before the answer arrived{retried}; "
            "try again (a proxy may have cut a slow request)."
        )
    elif isinstance(exc, requests.exceptions.RetryError):
        return ServerError(
            f"{at} kept failing after {retries} retries; try again later.", **context
        )
    else:
        advice = f"the request failed ({type(exc).__name__}); check the URL and try again."
    return TransportError(f"{at}: {advice}", url=None, **context)


def _broke_off(exc: requests.RequestException) -> bool:
    """True when the body broke off or stalled after the response headers: requests raises
    ChunkedEncodingError, or ConnectionError(ReadTimeoutError) for a stall past the read
    timeout (a timeout before the headers is a ReadTimeout instead)."""
    cause = exc.args[0] if exc.args else None
    return isinstance(exc, requests.exceptions.ChunkedEncodingError) or (
        isinstance(exc, requests.ConnectionError) and isinstance(cause, ReadTimeoutError)
    )


# -- bodies that break after the headers ----------------------------------------------------
class BrokenBodyError(TransportError):
    """The answer's body broke off after its headers (internal).

    Raised inside :func:`again_if_body_breaks`, which repeats the request if that is safe and
    otherwise raises :meth:`final`: users only ever see a plain :class:`TransportError`.
    ``at`` is "METHOD /api/path", ``what`` what happened, ``context`` the error's
    ``query_id``/``job_id``.
    """

    def __init__(self, at: str, what: str, advice: str, context: dict[str, Any]) -> None:
        super().__init__(f"{at}: {what}; {advice}", **context)
        self.at, self.what, self.advice, self.context = at, what, advice, context

    def final(self, retried: int = 0) -> TransportError:
        """The error to raise, saying that ``retried`` retries broke off the same way."""
        what = f"{self.what}, on every try (after {retried} retries)" if retried else self.what
        return TransportError(f"{self.at}: {what}; {self.advice}", **self.context)


def broken_body_error(
    exc: requests.RequestException,
    method: str,
    path: str,
    context: dict[str, Any],
    *,
    read_timeout: float,
) -> BrokenBodyError:
    """The error for a body that broke off (or stalled) after the response headers."""
    cause = exc.args[0] if exc.args else None
    if isinstance(exc, requests.exceptions.ReadTimeout) or isinstance(cause, ReadTimeoutError):
        what = (
            "the server stopped sending the body for longer than the read timeout "
            f"({read_timeout:g} s)"
        )
        advice = "raise timeout= (e.g. timeout=(10, 900)) for big results, or try again later."
    else:
        what = "the connection broke while the body was arriving (truncated)"
        advice = "try again."
    return BrokenBodyError(request_line(method, path), what, advice, context)


# -- error mapping: responses --------------------------------------------------------------
def check_not_login_page(
    response: requests.Response,
    method: str,
    path: str,
    context: dict[str, Any],
    *,
    url: str,
) -> None:
    """A 2xx HTML page (a login form after a redirect, a proxy page) is not the API."""
    content_type = response.headers.get("Content-Type", "")
    if "text/html" not in content_type.lower():
        return
    if response.history or "/login" in urlsplit(response.url).path:
        raise AuthError(
            f"{method} /api/{path} was redirected to the server's login page: the API key "
            f"was not accepted by {url}. Check the key (and that the URL is the Watch "
            "base address).",
            status_code=response.status_code,
            **context,
        )
    raise ServerError(
        f"{method} /api/{path} answered an HTML page instead of the API's JSON. Is {url} "
        "the Watch base address (not a page inside it), and is no single-sign-on proxy in "
        "front of it?",
        status_code=response.status_code,
        **context,
    )


def _not_found_advice(url: str) -> str:
    """ "Check the id", unless the base address looks like a web-UI page pasted from the
    browser (``https://host/queries``, kept because an organisation may have that name)."""
    base = page_like_base(url)
    if base is None:
        return "Check the id."
    page = url[len(base) :]
    return (
        f"The server URL {url} ends in {page}, like a page of the web UI: unless that is your "
        f"organisation's name, use the base address {_wording.current().url(base)}."
    )


def http_error(
    response: requests.Response,
    method: str,
    path: str,
    *,
    what: str | None,
    user_only: bool,
    sent_parameters: Mapping[str, Any] | None,
    context: dict[str, Any],
    url: str,
    key_kind: str,
    retries: int,
    redact: Callable[[str], str],
) -> WatchError:
    """The :mod:`watch_pandas.errors` type for a non-2xx ``response`` (not raised).

    ``key_kind`` is the client's configured kind (``"auto"``, ``"user"`` or ``"query"``);
    ``redact`` removes the key from text the server may have echoed.
    """
    status = response.status_code
    where = f"{method} /api/{path}"
    text = redact(_server_text(response))
    said = f' The server said: "{text}".' if text else ""
    extra = {"status_code": status, **context}
    subject = what or f"/api/{path}"

    if response.is_redirect or 300 <= status < 400:
        location = redact(response.headers.get("Location", "?"))
        return ServerError(
            f"{where} was redirected ({status}) to {location}; a redirect would turn this "
            "POST into a GET. Configure the final address as the URL (for instance "
            "https:// instead of http://).",
            **extra,
        )
    if status == 404 and _LOGIN_TEXT in text.lower():
        hint = ""
        if user_only and key_kind != "user":
            hint = (
                " If this is a query API key (one query's key), it only works on that "
                "query's own routes; this call needs a user API key (from your profile page)."
            )
        return AuthError(
            f"The API key was not accepted by {url} ({where} answered 404 "
            f'"Please login").{hint} Check the key and the URL.',
            **extra,
        )
    if status == 404:
        if "no cached result" in text.lower():
            return NotFoundError(
                f"No cached result for {subject}.{said} Run the query first (max_age=0); "
                "with a query key only results of the saved default parameters can be "
                "read this way (re-POST the parameters instead).",
                **extra,
            )
        return NotFoundError(
            f"{subject[0].upper() + subject[1:]} was not found ({where}).{said} "
            + _not_found_advice(url),
            **extra,
        )
    if status == 403:
        hint = ""
        lowered = text.lower()
        if "user api key" in lowered or "unsafe parameters" in lowered:
            hint = " Use a user API key for this (a query key cannot do it)."
        return ForbiddenError(f"Not allowed: {where} answered 403.{said}{hint}", **extra)
    if status == 409:
        return ConflictError(
            f"{subject[0].upper() + subject[1:]} was changed on the server by someone else "
            f"since you read it (version conflict on {where}).{said} Read it again and "
            "re-apply your change.",
            **extra,
        )
    if status == 400:
        return _bad_request(
            text, where, subject, sent_parameters, extra, adhoc=path == "query_results"
        )
    if status == 401:
        lowered = text.lower()
        if "data source" in lowered:
            return ConfigError(
                f"{where}: no usable data source.{said} Pass a valid data_source_id "
                "(see list_data_sources()), or attach the query to a data source.",
                **extra,
            )
        return AuthError(f"{where} answered 401.{said} Check the API key.", **extra)
    if status == 429 or status in (502, 503, 504):
        retried = method != "POST" or _post_refused(status)
        tried = f" after {retries} retries" if retries and retried else ""
        reason = "is rate-limiting us" if status == 429 else "(or a proxy in front) is unavailable"
        return ServerError(
            f"{where}: the server {reason} (HTTP {status}){tried}.{said} Try again later.",
            **extra,
        )
    if status >= 500:
        return ServerError(
            f"{where} failed on the server (HTTP {status}).{said}"
            f"{_server_error_hint(method, path)}",
            **extra,
        )
    return WatchError(f"{where} answered HTTP {status}.{said}", **extra)


def _server_text(response: requests.Response) -> str:
    """The server's own explanation: ``{"message"}`` or ``{"job": {"error"}}``; "" if none."""
    try:
        data = json.loads(response.content)
    except (ValueError, requests.RequestException):  # not JSON, or a body that broke off
        return ""
    if isinstance(data, dict):
        message = data.get("message")
        if isinstance(message, str):
            return message.strip()
        job = data.get("job")
        if isinstance(job, dict) and isinstance(job.get("error"), str):
            return job["error"].strip()
    return ""


_INCOMPATIBLE = "parameter values are incompatible with their definitions:"
_MISSING = "missing parameter value for:"


def _names_after(text: str, marker: str) -> list[str]:
    tail = text[text.lower().index(marker) + len(marker) :]
    return [name.strip() for name in tail.split(",") if name.strip()]


def _bad_request(
    text: str,
    where: str,
    subject: str,
    sent: Mapping[str, Any] | None,
    extra: dict[str, Any],
    *,
    adhoc: bool = False,
) -> WatchError:
    """``adhoc``: the request ran ad-hoc SQL (no saved definitions, so no defaults)."""
    lowered = text.lower()
    said = f' The server said: "{text}".' if text else ""
    if _INCOMPATIBLE in lowered:
        names = _names_after(text, _INCOMPATIBLE)
        values = ", ".join(f"{n}={sent[n]!r}" for n in names if sent and n in sent)
        unknown = [n for n in names if not sent or n not in sent]
        return ParameterError(
            f"The server rejected parameter(s) {', '.join(names)} of {subject}"
            + (f" (sent {values})" if values else "")
            + ": a value does not fit the parameter's definition (type, enum option, date "
            "format) or the name is not a parameter of the query"
            + (f" ({', '.join(unknown)})" if unknown else "")
            + ".",
            name=", ".join(names) or None,
            value=sent.get(names[0]) if sent and len(names) == 1 else None,
            **extra,
        )
    if _MISSING in lowered:
        names = sorted(_names_after(text, _MISSING))
        if adhoc:
            return ParameterError(
                f"The SQL needs a value for {', '.join(map(repr, names))}; "
                f"{adhoc_params_hint(names)}.",
                name=", ".join(names) or None,
                allowed="a value for every {{ name }} in the SQL",
                **extra,
            )
        return ParameterError(
            f"{subject[0].upper() + subject[1:]} needs a value for parameter(s) "
            f"{', '.join(names)}; the server never fills in defaults, so every parameter "
            "must be sent.",
            name=", ".join(names) or None,
            allowed="a value for every parameter of the query",
            **extra,
        )
    if "detached from any data source" in lowered:
        return ParameterError(
            f"A dropdown parameter's source query has no data source.{said}",
            **extra,
        )
    if "page is out of range" in lowered:
        return NotFoundError(
            f"{where}: that page is past the last one.{said} Use a page number up to "
            "ceil(count / page_size).",
            **extra,
        )
    if "page size is out of range" in lowered or "page must be" in lowered:
        return ConfigError(f"{where}: bad paging argument.{said}", **extra)
    if "paused" in lowered:
        return QueryFailedError(
            f"The data source of {subject} is paused.{said}", server_message=text, **extra
        )
    return WatchError(f"{where} was rejected as a bad request (400).{said}", **extra)


def _server_error_hint(method: str, path: str) -> str:
    """What a 500 on this route usually means (docs/protocol.md#error-answers)."""
    if path.startswith("jobs/") and method == "DELETE":
        return (
            " The job id is probably unknown or expired (finished jobs expire after 12 h),"
            " or the job was already cancelled."
        )
    if path.startswith("jobs/") or "/jobs/" in path:
        return " The job id is probably unknown or expired (finished jobs expire after 12 h)."
    if path == "query_results" and method == "POST":
        return " Check that data_source_id exists (list_data_sources())."
    if path.startswith("dashboards/") and "?legacy" not in path and method == "GET":
        return " A slug needs '?legacy' on v10+ servers; pass the numeric id instead."
    if path.startswith("dashboards/"):
        return " The dashboard may not exist."
    return ""


# -- error mapping: bodies that are not what the API answers -------------------------------
def decode_json(
    response: requests.Response, method: str, path: str, redact: Callable[[str], str]
) -> Any:
    """The response's JSON; a body that is not JSON is a :class:`ServerError`."""
    try:
        return json.loads(response.content)
    except ValueError:
        content_type = response.headers.get("Content-Type", "unknown")
        snippet = redact(response.text[:120]).replace("\n", " ")
        raise ServerError(
            f"{method} /api/{path} answered {content_type}, not JSON (starts with {snippet!r}). "
            "Is the URL the Watch base address?",
            status_code=response.status_code,
        ) from None


def expect_dict(data: Any, what: str) -> dict[str, Any]:
    """``data`` if it is a JSON object, else a :class:`ServerError` naming ``what``."""
    if not isinstance(data, dict):
        raise ServerError(f"The server answered {type(data).__name__} where {what} was expected.")
    return data


_Model = TypeVar("_Model")


def wire_model(factory: Callable[[dict[str, Any]], _Model], data: Any, what: str) -> _Model:
    """``factory(data)`` for a wire object; a malformed one is a ServerError, not a KeyError."""
    obj = expect_dict(data, what)
    try:
        return factory(obj)
    except (KeyError, TypeError, ValueError) as exc:
        raise ServerError(
            f"The server answered something that is not {what} ({type(exc).__name__}: {exc}); "
            "is the URL a Watch/Redash server?"
        ) from None
