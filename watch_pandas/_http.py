"""HTTP transport for :class:`~watch_pandas._client.WatchClient`: retries, deadline, errors.

- **Retry policy** (:func:`retry_policy`): urllib3 retries idempotent requests with exponential
  backoff on 429/502/503/504 and connection errors, honouring ``Retry-After``; a POST is only
  repeated when the server refused it without running it (429). urllib3 only sees failures
  before the response headers: :func:`again_if_body_breaks` repeats a safe request whose body
  broke off after them, with the same budget and backoff.
- **Deadline** (:func:`timeout_within_deadline`, :func:`deadline_error`): each request's
  timeouts and retry sleeps shrink to the thread's deadline (:mod:`watch_pandas._deadline`).
- **Error mapping** lives in :mod:`watch_pandas._http_errors` and is re-exported here, so the
  client imports its whole transport from one module.

Package-internal: names without an underscore are used by ``_client/`` and ``_body.py``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from urllib3.exceptions import MaxRetryError, ProtocolError
from urllib3.util.retry import Retry

from ._deadline import DeadlineReached, seconds_text, time_left
from ._http_errors import (
    BrokenBodyError,
    _post_refused,
    broken_body_error,
    check_not_login_page,
    decode_json,
    expect_dict,
    http_error,
    request_line,
    transport_error,
    wire_model,
)
from .errors import WatchTimeoutError

__all__ = [
    "IDEMPOTENT_METHODS",
    "RETRY_STATUSES",
    "BrokenBodyError",
    "again_if_body_breaks",
    "broken_body_error",
    "check_not_login_page",
    "deadline_error",
    "decode_json",
    "expect_dict",
    "http_error",
    "request_line",
    "retry_deadline_error",
    "retry_policy",
    "timeout_within_deadline",
    "transport_error",
    "wire_model",
]

log = logging.getLogger("watch_pandas.client")

RETRY_STATUSES = frozenset({429, 502, 503, 504})
# Methods urllib3 may repeat after a read error or a retryable status. DELETE is safe here:
# archiving or cancelling twice leaves the same state. POST is deliberately absent.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE", "PUT", "TRACE"})


# -- deadline: each request's share of it --------------------------------------------------
def timeout_within_deadline(
    timeout: tuple[float, float], method: str, path: str, context: dict[str, Any]
) -> tuple[float, float]:
    """The (connect, read) ``timeout``, shrunk to the thread's deadline if any."""
    left = time_left()
    if left is None:
        return timeout
    if left <= 0:
        raise deadline_error(method, path, context)
    return (min(timeout[0], left), min(timeout[1], left))


def deadline_error(method: str, path: str, context: dict[str, Any]) -> WatchTimeoutError:
    """The error for a request the thread's deadline cut short."""
    return WatchTimeoutError(
        f"{request_line(method, path)}: the overall deadline (timeout=) passed before the server "
        "answered; raise timeout= or try again later.",
        **context,
    )


def retry_deadline_error(
    reached: DeadlineReached, at: str, context: dict[str, Any], *, what: str | None = None
) -> WatchTimeoutError:
    """The error for a retry that was not made because its wait would pass the deadline.

    ``at`` is "METHOD /api/path"; ``what`` what went wrong (default: the server's answer).
    """
    if what is None and reached.status is None:
        what = "the request failed"  # a connection error: urllib3 does not say which here
    elif what is None:
        what = f"the server answered {reached.status}"
        if reached.retry_after is not None:
            what += f" with Retry-After: {seconds_text(reached.retry_after)} s"
    if reached.left <= 0:
        why = "and the overall deadline (timeout=) has passed"
    elif reached.retry_after is not None:
        why = f"more than the {seconds_text(reached.left)} s left before the overall deadline"
        why += " (timeout=)"
    else:
        why = (
            f"and waiting {seconds_text(reached.wait)} s to try again would pass the overall "
            f"deadline (timeout=, {seconds_text(reached.left)} s left)"
        )
    return WatchTimeoutError(f"{at}: {what}, {why}; raise timeout= or try again later.", **context)


# -- retry policy --------------------------------------------------------------------------
def retry_policy(retries: int, backoff_factor: float) -> Retry:
    """The urllib3 ``Retry`` a client's own session mounts (``retries=0`` disables it)."""
    return _Retry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        other=0,
        allowed_methods=IDEMPOTENT_METHODS,
        status_forcelist=RETRY_STATUSES,
        backoff_factor=backoff_factor,
        backoff_max=30,
        respect_retry_after_header=True,
        raise_on_status=False,  # hand back the last response so we can explain it
    )


class _Retry(Retry):
    """urllib3 ``Retry`` that caps how long a ``Retry-After`` header may make us sleep, never
    sleeps past the thread's :func:`deadline`, and also repeats a POST the server rate-limited
    without running it (see :func:`_post_refused`)."""

    RETRY_AFTER_MAX = 60.0

    def sleep(self, response: Any = None) -> None:
        left = time_left()
        if left is not None:
            wait = self.get_retry_after(response) if response is not None else None
            if wait is None:
                wait = self.get_backoff_time()
            if wait >= left:
                # what the server asked for (uncapped), so the error can repeat it
                asked = Retry.get_retry_after(self, response) if response is not None else None
                status = getattr(response, "status", None)
                raise DeadlineReached(status=status, retry_after=asked, wait=wait, left=left)
        super().sleep(response)

    def get_retry_after(self, response: Any) -> float | None:
        value = super().get_retry_after(response)
        return None if value is None else min(value, self.RETRY_AFTER_MAX)

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        if method.upper() == "POST" and _post_refused(status_code):
            return True  # the retry budget (total/status) still caps it
        return super().is_retry(method, status_code, has_retry_after)


# -- bodies that break after the headers: the repeat ----------------------------------------
_T = TypeVar("_T")


def again_if_body_breaks(attempt: Callable[[], _T], method: str, retry: Retry) -> _T:
    """``attempt()``, repeated while the body of its answer breaks off (safe methods only);
    a :class:`BrokenBodyError` raised by ``attempt`` never gets past this.

    ``retry`` is the client's :func:`retry_policy`: the same budget and backoff as urllib3's
    own retries, and its sleep never passes the thread's :func:`deadline`.
    """
    while True:
        try:
            return attempt()
        except BrokenBodyError as broke:
            if method.upper() not in IDEMPOTENT_METHODS:
                # a POST may have started an execution: never repeated blindly
                raise broke.final() from None
            try:
                retry = retry.increment(method, broke.at, error=ProtocolError(broke.what))
            except MaxRetryError:
                raise broke.final(len(retry.history)) from None
            log.info("%s: %s; trying again (retry %d)", broke.at, broke.what, len(retry.history))
            try:
                retry.sleep()
            except DeadlineReached as reached:
                raise retry_deadline_error(
                    reached, broke.at, broke.context, what=broke.what
                ) from None
