"""How a message names a setting: as a Python argument, a command-line option or a magic's.

Messages are written once, in the core; the ``watch-pandas`` command and the ``%watch`` magics
run their work inside :func:`use` with their own :class:`Wording`, so a refusal names what the
user can type where they are (``--url``, not ``url=``; no ``offline=False`` where there is no
such argument). The Python API is the default.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

__all__ = ["Wording", "PYTHON", "CLI", "MAGIC", "current", "use"]


@dataclass(frozen=True)
class Wording:
    """The names of the settings a message may point at, in one interface."""

    url_source: str  # where an explicit server URL came from
    url_option: str  # how to give a URL: formatted with the address
    key_option: str  # how to give the API key
    offline_on: str  # how offline mode was turned on
    go_online: str  # how to leave offline mode
    max_age_option: str  # how to give max_age: formatted with the seconds
    any_age: str  # how to accept a cached result of any age
    data_source_option: str  # how to give a data source: formatted with the id

    def url(self, address: str) -> str:
        """How to give ``address`` as the server URL."""
        return self.url_option.format(address=address)

    def max_age(self, seconds: object) -> str:
        """How to give ``seconds`` as max_age."""
        return self.max_age_option.format(seconds=seconds)

    def data_source(self, source_id: object) -> str:
        """How to give ``source_id`` as the data source."""
        return self.data_source_option.format(source_id=source_id)


PYTHON = Wording(
    url_source="the url= argument",
    url_option="url={address!r}",
    key_option="api_key= or $WATCH_API_KEY",
    offline_on="$WATCH_OFFLINE=1 or offline=True",
    go_online="pass offline=False or unset $WATCH_OFFLINE",
    max_age_option="max_age={seconds}",
    any_age="with max_age=None",
    data_source_option="data_source={source_id}",
)
CLI = Wording(
    url_source="--url",
    url_option="--url {address}",
    key_option="$WATCH_API_KEY or a --profile",
    offline_on="$WATCH_OFFLINE=1",
    go_online="unset $WATCH_OFFLINE",
    max_age_option="--max-age {seconds}",
    any_age="by leaving out --max-age",
    data_source_option="data source {source_id}",
)
MAGIC = Wording(
    url_source="%config WatchMagic.url",
    url_option="%config WatchMagic.url = {address!r}",
    key_option="$WATCH_API_KEY or %config WatchMagic.profile",
    offline_on="$WATCH_OFFLINE=1",
    go_online="unset $WATCH_OFFLINE",
    max_age_option="--max-age {seconds}",
    any_age="by leaving out --max-age",
    data_source_option="--data-source {source_id}",
)

_current: ContextVar[Wording] = ContextVar("watch_pandas_wording", default=PYTHON)


def current() -> Wording:
    """The wording of the interface the running call came from."""
    return _current.get()


@contextmanager
def use(wording: Wording) -> Iterator[None]:
    """Word messages raised inside the block for ``wording``'s interface."""
    token = _current.set(wording)
    try:
        yield
    finally:
        _current.reset(token)
