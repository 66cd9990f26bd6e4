"""The API key of a :class:`~watch_pandas._client.WatchClient` and what is known of its kind.

:class:`KeyAuth` is the only holder of the key: it puts it in the ``Authorization`` header,
removes it from text the server echoes, and hides it from its repr. :class:`KeyKindState`
says whether the key is a user key or one query's key: configured, or learned once from the
server's answers (``auto`` → ``user`` or ``query``), under a lock so that a client shared by
threads (dashboard workers) learns one kind for all of them.
"""

from __future__ import annotations

import hmac
import threading
from typing import Literal

import requests
import requests.auth

KeyKind = Literal["auto", "user", "query"]
KEY_KINDS: tuple[KeyKind, ...] = ("auto", "user", "query")


class KeyAuth(requests.auth.AuthBase):
    """Puts ``Authorization: Key <key>`` on every request; its repr hides the key."""

    def __init__(self, key: str) -> None:
        self._key = key
        self._header = f"Key {key}"

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = self._header
        return request

    def __repr__(self) -> str:
        return "_KeyAuth(<hidden>)"

    def is_key(self, other: str) -> bool:
        """True when ``other`` is this key (compared in constant time)."""
        return hmac.compare_digest(other.encode(), self._key.encode())

    def redact(self, text: str) -> str:
        """``text`` with the key replaced (the server may echo it in a message)."""
        return text.replace(self._key, "<redacted>") if self._key else text


class KeyKindState:
    """The key's kind: ``configured`` (``auto``, ``user`` or ``query``), or learned once.

    The transitions are explicit: :meth:`record_user_route` (a user-only route answered) and
    :meth:`record_query` (a query the key could read) move ``auto`` to ``user`` or ``query``;
    the first one wins and nothing moves it again. A configured kind is never changed.
    """

    def __init__(self, configured: KeyKind) -> None:
        self._configured: KeyKind = configured
        self._detected: KeyKind = "auto"
        self._query_id: int | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"KeyKindState(configured={self._configured!r}, kind={self.kind!r})"

    @property
    def configured(self) -> KeyKind:
        """The kind the client was given (``"auto"``: detect it)."""
        return self._configured

    @property
    def kind(self) -> KeyKind:
        """``"user"`` or ``"query"`` once known (configured or detected), else ``"auto"``."""
        with self._lock:
            return self._configured if self._configured != "auto" else self._detected

    @property
    def query_id(self) -> int | None:
        """The query whose own key this is, once a read of it showed so (else ``None``)."""
        with self._lock:
            return self._query_id

    def record_user_route(self) -> None:
        """A user-key-only route answered: an undetected key is a user key."""
        with self._lock:
            self._settle("user")

    def record_query(self, query_id: int, *, is_its_key: bool) -> None:
        """The key read query ``query_id``: its own key (a query key), or else a user key."""
        with self._lock:
            if is_its_key:
                self._query_id = query_id
            self._settle("query" if is_its_key else "user")

    def _settle(self, kind: KeyKind) -> None:
        """``auto`` → ``kind``, once (the caller holds the lock)."""
        if self._configured == "auto" and self._detected == "auto":
            self._detected = kind
