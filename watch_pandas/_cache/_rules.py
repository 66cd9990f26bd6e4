"""Every rule of when the local cache serves a read (package docstring: how a read decides).

A read asks :func:`serve` (online) or :func:`serve_offline` and hands a fresh frame to
:func:`keep`; :func:`usable` judges one entry; offline mode and its refusals live here too.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import _params as _params
from .. import _wording
from ..errors import ConfigError, ParameterError
from ..models import Query
from ._store import CACHE_DIR_ENV, CacheKey, EntryInfo, Lookup, ResultCache

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

OFFLINE_ENV = "WATCH_OFFLINE"
_TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
_FALSE_WORDS = frozenset({"", "0", "false", "no", "off"})


def is_offline(offline: bool | None = None) -> bool:
    """``offline`` if given, else ``$WATCH_OFFLINE`` (``1/true/yes/on`` or ``0/false/no/off``)."""
    if offline is not None:
        if not isinstance(offline, bool):
            raise ConfigError(f"offline must be True, False or None, not {offline!r}.")
        return offline
    value = os.environ.get(OFFLINE_ENV, "").strip().lower()
    if value in _TRUE_WORDS:
        return True
    if value in _FALSE_WORDS:
        return False
    raise ConfigError(f"${OFFLINE_ENV}={value!r} is not understood; use 1 (offline) or 0 (online).")


def needs_network(what: str, instead: str = "", *, argument: bool = True) -> ConfigError:
    """The one refusal for work that cannot be done from the cache while offline mode is on
    (``argument``: the caller has an ``offline=`` argument to mention)."""
    hint = f" {instead}" if instead else ""
    words = _wording.current() if argument else _wording.CLI  # CLI: the environment only
    on, off = words.offline_on, words.go_online
    return ConfigError(
        f"{what} needs the server, and offline mode is on ({on}), which never touches the "
        f"network.{hint} To go online, {off}."
    )


def offline_miss(found: Lookup, directory: Path, wanted: str) -> str:
    """Why an offline read of ``wanted`` has nothing to serve, and the advice that can help: a
    copy too old for ``max_age`` can still be served; without one only an online read helps."""
    words = _wording.current()
    looked = f"looked in the local cache at {directory} for {wanted}, and {found.reason}."
    if found.info is None:  # no copy, or an unreadable one
        return f"{looked} Read it online once with them ({words.go_online})."
    return f"{looked} Serve it anyway {words.any_age}, or read it online ({words.go_online})."


def unusable_folder(directory: Path, exc: OSError) -> ConfigError:
    """The error for a cache folder that cannot be created or read (e.g. a path under a file)."""
    reason = exc.strerror or type(exc).__name__
    return ConfigError(
        f"The local cache folder {directory} cannot be used ({reason}). Point "
        f"${CACHE_DIR_ENV} or cache_dir= at a folder you can write, or leave both unset for the "
        "user cache folder."
    )


# --------------------------------------------------------------------------- rules


def usable(
    info: EntryInfo,
    *,
    query: Query | None,
    is_default: bool,
    max_age: int | None,
    now: datetime | None = None,
) -> str | None:
    """``None`` when the entry may be served, else the reason it may not (package docstring).

    ``query`` is the server's current query (``None`` offline: then only ``max_age`` counts).
    """
    if max_age is not None and max_age < 0:
        max_age = None  # -1 is the server's "any age"
    if max_age == 0:
        return "max_age=0 asks for a fresh run"
    if query is not None:
        if info.query_created_at != query.created_at:
            # Same URL and query id, but another query: a server that was reset or replaced
            # (result ids are not permanent either, docs/protocol.md#result-caching).
            return "the query on the server is not the one the result was cached from"
        if info.query_version != query.version or info.query_hash != query.query_hash:
            return "the query changed since the result was cached"
        latest = query.latest_query_data_id
        if is_default and latest is not None:
            # A trimmed result (query keys) has no id: then the server's pointer must not have
            # moved since the entry was stored.
            known = info.result_id if info.result_id is not None else info.latest_when_stored
            if known is None or known < latest:
                return f"the server has a newer result ({latest}) for the default parameters"
    if max_age is not None:
        age = age_seconds(info.retrieved_at, now)
        if age is None:
            return "the cached result has no retrieved_at to check max_age against"
        if age > max_age:
            limit = _wording.current().max_age(max_age)
            return f"the cached result is {age:.0f} s old ({limit})"
    return None


def age_seconds(retrieved_at: str | None, now: datetime | None = None) -> float | None:
    """Seconds since ``retrieved_at`` (ISO-8601; naive means UTC, as the server writes it)."""
    if not retrieved_at:
        return None
    try:
        moment = datetime.fromisoformat(retrieved_at.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    now = now if now is not None else _utcnow()
    return (now - moment).total_seconds()


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


# --------------------------------------------------------------------------- serving reads
# The rules a read follows around the store: which cache to use, whether a run is the saved
# defaults', what may be served online or offline, and that a failing cache never fails a read.
# Their messages keep the logger the reads always used (users filter on its name).
_read_log = logging.getLogger("watch_pandas")


def open_cache(
    cache: bool, offline: bool | None, cache_dir: str | os.PathLike[str] | None
) -> ResultCache | None:
    """The local result cache to use (``None`` with ``cache=False``); refuses offline without it."""
    if not isinstance(cache, bool):
        raise ConfigError(f"cache must be True or False, not {cache!r}.")
    if not cache and is_offline(offline):
        raise ConfigError(
            "offline=True serves results only from the local cache, so it cannot be combined "
            "with cache=False."
        )
    return ResultCache(cache_dir) if cache else None


def is_default_run(
    definitions: Sequence[_params.ParameterDefinition],
    given: Mapping[str, Any] | None,
    wire: Mapping[str, Any],
    now: datetime,
) -> bool:
    """True when ``wire`` equals the saved defaults (the runs ``latest_query_data_id`` tracks).

    ``wire`` was resolved from ``given`` at ``now``; nothing given means it is the defaults."""
    if not given:
        return True
    try:
        defaults = _params.resolve_parameters(definitions, None, now=now)
    except ParameterError:
        return False  # a parameter without a default: every run passes explicit values
    return _params.cache_key(defaults) == _params.cache_key(wire)


def serve(
    results: ResultCache | None,
    key: CacheKey,
    max_age: int | None,
    *,
    query: Query | None = None,
    is_default: bool = False,
) -> pd.DataFrame | None:
    """The online read's cached frame if :func:`usable` allows it, else ``None``.

    ``max_age=0`` asks for a fresh run, so the folder is not even read; an unreadable cache
    folder is a miss, not a failed read."""
    if results is None or max_age == 0:
        return None
    try:
        found = results.read(
            key, lambda info: usable(info, query=query, is_default=is_default, max_age=max_age)
        )
    except OSError as exc:  # an unreadable cache folder must not break the read
        _read_log.warning("local cache unavailable (%s); reading from the server", exc)
        return None
    if found.frame is None:
        _read_log.debug("local cache not used for %s: %s", _what(key), found.reason)
    return found.frame


def serve_offline(results: ResultCache, key: CacheKey, max_age: int | None) -> Lookup:
    """The offline read: nothing can run, so ``max_age=0`` ("run it now") means the last
    stored run; an unusable cache folder is a ConfigError (there is nothing else to serve)."""
    try:
        return results.read(
            key,
            lambda info: usable(
                info, query=None, is_default=False, max_age=None if max_age == 0 else max_age
            ),
        )
    except OSError as exc:
        raise unusable_folder(results.directory, exc) from None


def keep(
    results: ResultCache | None,
    key: CacheKey,
    frame: pd.DataFrame,
    *,
    query: Query | None,
    is_default: bool,
) -> None:
    """Store a fresh frame (and its query's definitions, for offline reads); a cache that
    cannot write is logged, never raised."""
    if results is None:
        return
    try:
        results.store(key, frame, query=query, is_default=is_default)
        if query is not None:
            results.store_query(key.server, query)
    except Exception as exc:  # a cache that cannot write must never cost the user the frame
        _read_log.warning(
            "could not cache the result of %s: %s: %s", _what(key), type(exc).__name__, exc
        )


def offline_query(results: ResultCache, server: str, query_id: int) -> Query | None:
    """The query as last read online (``None``: never); an unusable folder is a ConfigError."""
    try:
        return results.load_query(server, query_id)
    except OSError as exc:  # a path under a file, no permission: nothing to serve from
        raise unusable_folder(results.directory, exc) from None


def offline_source_id(results: ResultCache, server: str, data_source: int | str) -> int:
    """An id as given; a name through the data sources last listed online."""
    if isinstance(data_source, int) or data_source.strip().isdigit():
        return int(data_source)
    try:
        known = results.load_data_sources(server) or {}
    except OSError as exc:
        raise unusable_folder(results.directory, exc) from None
    for source_id, name in known.items():
        if name == data_source:
            return source_id
    listed = ", ".join(f"{name} (id {i})" for i, name in known.items())
    if listed:
        seen = f"It is not among the data sources last listed online: {listed}."
    else:
        seen = (
            "Its data sources were never listed online, so the local cache at "
            f"{results.directory} keeps no list of them."
        )
    raise needs_network(
        f"Finding data source {data_source!r} of {server} by name",
        f"{seen} Pass its id ({_wording.current().data_source(3)}) instead.",
    )


def known_sources(results: ResultCache | None, server: str) -> dict[int, str] | None:
    """The data sources last listed online, if the cache can tell (for provenance names)."""
    if results is None:
        return None
    with contextlib.suppress(OSError):  # an unreadable cache folder is only a missing name
        return results.load_data_sources(server)
    return None


def remember_sources(
    results: ResultCache | None, server: str, names: Mapping[int, str] | None
) -> None:
    """Keep the data sources a client listed, for offline names and provenance."""
    if results is None or names is None:
        return
    try:
        if results.load_data_sources(server) != names:  # no rewrite (and fsync) per read
            results.store_data_sources(server, names)
    except OSError as exc:  # a cache that cannot write must never cost the user the frame
        _read_log.warning("could not remember the data sources in the local cache: %s", exc)


def _what(key: CacheKey) -> str:
    return f"query {key.query_id}" if key.sql is None else "the SQL"
