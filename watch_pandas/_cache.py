"""The local result cache: one Parquet file per (server, query, parameters, dtype backend).

Where
    ``platformdirs.user_cache_dir("watch-pandas")``, or ``$WATCH_CACHE_DIR``, or the
    ``cache_dir=`` argument (argument > environment > platform default). A directory the cache
    creates is made user-only (``0o700``); an existing one keeps its mode. Files are ``0o600``.

Names
    ``<sha256>.parquet`` for a result, ``<sha256>.query.json`` for a query's definitions,
    ``<sha256>.sources.json`` for a server's data source list. The hash covers the server
    URL, the query id (or the data source and SQL text), the canonical wire parameters
    (:func:`watch_pandas._params.cache_key`) and the dtype backend; the API key is never part of
    a name or of a file's contents (the stored query JSON keeps an allow-list of fields that
    excludes ``api_key``).

What a file holds
    The frame's columns as Arrow arrays (named ``c0, c1, …`` so duplicate names survive), the
    exact Arrow schema (Parquet has no second-resolution timestamps), and JSON metadata: the
    real column names and how each is restored, ``df.attrs["watch"]``, the result's id and
    ``retrieved_at``, and the query's ``version``/``query_hash`` when it was stored. Object
    columns are stored as text: integers beyond int64 as decimal strings (restored as exact
    Python ints), anything else (JSON cells, mixed values) as JSON text. Data pages carry CRC
    checksums; a file that cannot be read, fails a checksum or has unexpected metadata is
    treated as a miss, deleted and replaced by the refetched result.

How a cached read decides (:func:`usable`)
    The online read always starts with ``GET /api/queries/<id>`` (it needs the parameter
    definitions anyway), so a hit costs exactly that one request and executes nothing. The
    stored entry is served when

    * ``max_age`` is not ``0`` (``0`` means "run it now"; the cache is neither read nor
      skipped silently: the fresh result replaces the entry);
    * it is the same query: same ``created_at`` (a server reset or replaced at the same URL
      has other queries under the same ids), ``version`` and ``query_hash`` as when stored;
    * for a run with the saved default parameters: the stored result id is the query's
      ``latest_query_data_id`` or newer (if someone refreshed the query on the server, the
      newer result is fetched). Other parameters have no such server-side pointer;
    * and its age satisfies ``max_age`` exactly like the server: ``now - retrieved_at`` (UTC)
      ``<= max_age``. ``None`` accepts any age, like the server's ``max_age=-1``.

    Ad-hoc SQL (``run_sql``) is keyed by server, data source id, SQL text (outer whitespace
    and line endings normalised), parameters and dtype backend; only ``max_age`` judges it.

    A read asks :func:`serve` (online) or :func:`serve_offline` and hands a fresh frame to
    :func:`keep`; a cache folder that cannot be read or written is a miss online, never a
    failed read (offline it is a ConfigError: there is nothing else to serve).

    Offline mode (``offline=True`` or ``$WATCH_OFFLINE=1``) never touches the network: the
    query's definitions come from its cached ``.query.json``, only ``max_age`` is checked (the
    server's pointers cannot be), ``max_age=0`` serves the last stored run (nothing can run),
    and a missing entry is a clear :class:`NotFoundError`. Data source names resolve through
    the list last fetched online (``<sha256>.sources.json``, ids and names only).

Size
    The folder is capped (``$WATCH_CACHE_MAX_BYTES``, default 2 GiB): after each write the
    least recently written results are deleted until it fits (dynamic parameters such as
    ``d_now`` make a new entry per read, so it would otherwise only grow).

Concurrency
    Writes go to a temporary file in the same directory and are moved into place with
    ``os.replace`` (atomic on POSIX and Windows), so readers in other threads or processes see
    the old file or the new one, never a mixture; concurrent writers of one key simply race
    and the last complete file wins. An interrupted write (including ``KeyboardInterrupt``)
    removes its temporary file.

Scope: the cache trusts whoever may read the OS user's files. Online, the server still checks
the key for every read (the ``GET`` of the query); offline, nothing is checked.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import numbers
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from . import _params as _params
from . import _wording
from .errors import ConfigError, ParameterError
from .models import Query

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

__all__ = [
    "CACHE_DIR_ENV",
    "OFFLINE_ENV",
    "LOCAL_CACHE",
    "CacheKey",
    "EntryInfo",
    "Lookup",
    "ResultCache",
    "cache_directory",
    "clear_cache",
    "unusable_folder",
    "is_offline",
    "needs_network",
    "usable",
    "open_cache",
    "is_default_run",
    "serve",
    "serve_offline",
    "keep",
    "offline_query",
    "offline_source_id",
    "known_sources",
    "remember_sources",
]

log = logging.getLogger("watch_pandas.cache")

CACHE_DIR_ENV = "WATCH_CACHE_DIR"
OFFLINE_ENV = "WATCH_OFFLINE"
MAX_BYTES_ENV = "WATCH_CACHE_MAX_BYTES"
DEFAULT_MAX_BYTES = 2 << 30


def max_cache_bytes() -> int:
    """The cache folder's size cap: ``$WATCH_CACHE_MAX_BYTES`` or 2 GiB."""
    text = os.environ.get(MAX_BYTES_ENV, "").strip()
    if not text:
        return DEFAULT_MAX_BYTES
    try:
        value = int(text)
    except ValueError:
        raise ConfigError(
            f"{MAX_BYTES_ENV} must be a number of bytes (e.g. 1073741824), not {text!r}."
        ) from None
    if value < 0:
        raise ConfigError(f"{MAX_BYTES_ENV} must be >= 0, not {value}.")
    return value


LOCAL_CACHE = "local cache"  # df.attrs["watch"]["source"] of a frame served from here

FORMAT_VERSION = 1
_META_FIELD = b"watch_pandas.entry"
_SCHEMA_FIELD = b"watch_pandas.schema"
_RESULT_SUFFIX = ".parquet"
_QUERY_SUFFIX = ".query.json"
_SOURCES_SUFFIX = ".sources.json"
_TMP_SUFFIX = ".tmp"
_TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
_FALSE_WORDS = frozenset({"", "0", "false", "no", "off"})
# Query fields worth keeping for offline reads; everything else (api_key, user objects with
# e-mail addresses, visualizations) stays out of the cache.
_QUERY_FIELDS = (
    "id",
    "name",
    "description",
    "query",
    "query_hash",
    "data_source_id",
    "options",
    "version",
    "created_at",
    "updated_at",
    "latest_query_data_id",
    "is_safe",
    "is_draft",
    "is_archived",
    "tags",
)


# --------------------------------------------------------------------------- settings


def cache_directory(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The cache folder: ``cache_dir`` > ``$WATCH_CACHE_DIR`` > the platform's user cache dir."""
    if cache_dir is not None:
        if not isinstance(cache_dir, (str, os.PathLike)) or not str(cache_dir).strip():
            raise ConfigError(
                f"cache_dir= must be a folder path (a str or pathlib.Path), not {cache_dir!r}; "
                f"leave it out to use ${CACHE_DIR_ENV} or the user cache folder."
            )
        return Path(cache_dir).expanduser()
    override = os.environ.get(CACHE_DIR_ENV, "").strip()
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("watch-pandas", appauthor=False))


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


def clear_cache(cache_dir: str | os.PathLike[str] | None = None) -> int:
    """Delete every cached result, query definition and data source list; returns how many
    files were removed.

    Only the cache's own files (``*.parquet``, ``*.query.json``, ``*.sources.json``, leftover
    ``*.tmp``) are touched, so pointing ``cache_dir`` at a shared folder removes nothing else.
    """
    return ResultCache(cache_dir).clear()


# --------------------------------------------------------------------------- keys and rules


@dataclass(frozen=True)
class CacheKey:
    """What identifies a cached result. ``parameters`` is the canonical wire JSON text.

    A saved query's result is keyed by ``query_id``; an ad-hoc one (``query_id`` ``None``) by
    ``data_source_id`` and its ``sql`` (outer whitespace and line endings normalised)."""

    server: str
    query_id: int | None
    parameters: str
    dtype_backend: str
    data_source_id: int | None = None
    sql: str | None = None

    @classmethod
    def for_read(
        cls, server: str, query_id: int, wire: Mapping[str, Any], dtype_backend: str
    ) -> CacheKey:
        return cls(server.rstrip("/"), int(query_id), _params.cache_key(wire), dtype_backend)

    @classmethod
    def for_sql(
        cls,
        server: str,
        data_source_id: int,
        sql: str,
        wire: Mapping[str, Any],
        dtype_backend: str,
    ) -> CacheKey:
        # Only what cannot change the result is normalised: a re-run cell has the same text,
        # and a space inside a string literal must keep two queries apart.
        text = "\n".join(sql.strip().splitlines())
        return cls(
            server.rstrip("/"),
            None,
            _params.cache_key(wire),
            dtype_backend,
            data_source_id=int(data_source_id),
            sql=text,
        )

    @property
    def digest(self) -> str:
        """sha256 of the key tuple: the file name (never the key or raw parameters)."""
        text = json.dumps(
            ["result", FORMAT_VERSION, *_key_json(self)[:-1]],
            separators=(",", ":"),
            ensure_ascii=False,
        )
        text += "\x00" + self.dtype_backend
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Lookup:
    """What :meth:`ResultCache.read` found: the ``frame``, or ``None`` and the ``reason``."""

    frame: pd.DataFrame | None
    info: EntryInfo | None
    reason: str | None


@dataclass(frozen=True)
class EntryInfo:
    """A cached entry's validation data (read from the file's metadata, not its rows)."""

    result_id: int | None
    retrieved_at: str | None
    query_version: int | None
    query_hash: str | None
    is_default: bool
    stored_at: str
    query_created_at: str | None = None
    latest_when_stored: int | None = None  # the query's latest_query_data_id at store time


def usable(
    info: EntryInfo,
    *,
    query: Query | None,
    is_default: bool,
    max_age: int | None,
    now: datetime | None = None,
) -> str | None:
    """``None`` when the entry may be served, else the reason it may not (module docstring).

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


# --------------------------------------------------------------------------- the store


class CorruptEntry(Exception):
    """A cache file that cannot be trusted (internal: it is deleted and refetched)."""


class Uncacheable(Exception):
    """A frame this cache cannot store exactly (internal: the read goes on uncached)."""


class ResultCache:
    """The cache folder and its entries. Every method is safe to call from several processes."""

    def __init__(self, cache_dir: str | os.PathLike[str] | None = None) -> None:
        self.directory = cache_directory(cache_dir)

    def __repr__(self) -> str:
        return f"ResultCache({str(self.directory)!r})"

    # -- results ---------------------------------------------------------------------------
    def path_for(self, key: CacheKey) -> Path:
        return self.directory / (key.digest + _RESULT_SUFFIX)

    def read(
        self, key: CacheKey, accept: Callable[[EntryInfo], str | None] | None = None
    ) -> Lookup:
        """Read ``key``'s entry if ``accept(info)`` returns ``None`` (see :func:`usable`).

        The file is opened once, so the metadata checked and the rows returned belong to the
        same file even while another process replaces it. Rows are read only when accepted;
        an unreadable file is deleted. The frame's ``attrs["watch"]["source"]`` is
        ``"local cache"``.
        """
        path = self.path_for(key)
        try:
            handle = open(path, "rb")
        except FileNotFoundError:
            return Lookup(None, None, "there is no cached copy")
        with handle:
            try:
                parquet, meta = _open_entry(handle)
                if meta["key"] != _key_json(key):
                    raise CorruptEntry("its metadata names another key")
                info = _entry_info(meta)
                reason = accept(info) if accept is not None else None
                if reason is not None:
                    return Lookup(None, info, reason)
                frame = _read_frame(parquet, meta)
            except CorruptEntry as exc:
                self._discard(path, exc, opened=handle)
                return Lookup(None, None, f"the cached copy was unreadable ({exc})")
        frame.attrs["watch"]["source"] = LOCAL_CACHE
        return Lookup(frame, info, None)

    def info(self, key: CacheKey) -> EntryInfo | None:
        """The entry's validation data without reading its rows (``None``: no usable entry)."""
        return self.read(key, accept=lambda info: "only looking").info

    def load(self, key: CacheKey) -> pd.DataFrame | None:
        """The cached frame whatever its age, or ``None``."""
        return self.read(key).frame

    def store(
        self, key: CacheKey, frame: pd.DataFrame, *, query: Query | None, is_default: bool
    ) -> Path:
        """Write ``frame`` for ``key`` atomically (raises :class:`Uncacheable` if not exact).

        ``query`` is ``None`` for ad-hoc SQL (then only ``max_age`` can judge the entry)."""
        attrs = dict(frame.attrs.get("watch") or {})
        meta = {
            "format": FORMAT_VERSION,
            "key": _key_json(key),
            "result": {
                "id": attrs.get("result_id"),
                "retrieved_at": attrs.get("retrieved_at"),
                "query_version": query and query.version,
                "query_hash": query and query.query_hash,
                "query_created_at": query and query.created_at,
                "latest_when_stored": query and query.latest_query_data_id,
                "is_default": is_default,
                "stored_at": datetime.now(timezone.utc).isoformat(),
            },
            "attrs": attrs,
            "query": query and _safe_query_json(query),
        }
        table = _to_table(frame, meta)
        path = self.path_for(key)
        self._write_atomically(path, lambda f: _write_parquet(table, f))
        self.prune(keep=path)
        return path

    def prune(self, *, keep: Path | None = None) -> int:
        """Delete the least recently written results until the folder fits its size cap
        (``$WATCH_CACHE_MAX_BYTES``, default 2 GiB); returns how many were deleted.

        Dynamic parameters (``d_now``, ``d_last_hour``…) make a new entry for every read, so
        without a cap the folder would only grow. ``keep`` (the entry just written) stays.
        """
        cap = max_cache_bytes()
        entries = []
        for path in self.directory.glob("*" + _RESULT_SUFFIX):
            with contextlib.suppress(FileNotFoundError):
                stat = path.stat()
                entries.append((stat.st_mtime, stat.st_size, path))
        total = sum(size for _, size, _ in entries)
        removed = 0
        for _, size, path in sorted(entries, key=lambda entry: entry[0]):
            if total <= cap:
                break
            if path == keep:
                continue
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed += 1
            total -= size
        return removed

    def discard(self, key: CacheKey) -> None:
        """Forget one entry (missing is fine)."""
        with contextlib.suppress(FileNotFoundError):
            os.remove(self.path_for(key))

    # -- query definitions (for offline reads) ---------------------------------------------
    def _query_path(self, server: str, query_id: int) -> Path:
        text = json.dumps(["query", FORMAT_VERSION, server.rstrip("/"), int(query_id)])
        return self.directory / (hashlib.sha256(text.encode()).hexdigest() + _QUERY_SUFFIX)

    def store_query(self, server: str, query: Query) -> None:
        """Keep the query's definitions (no API key) so offline reads can resolve parameters."""
        data = json.dumps(
            {"format": FORMAT_VERSION, "server": server.rstrip("/"), **_safe_query_json(query)},
            ensure_ascii=False,
        ).encode("utf-8")
        self._write_atomically(self._query_path(server, query.id), lambda f: f.write(data))

    def load_query(self, server: str, query_id: int) -> Query | None:
        """The query as last seen online, or ``None``."""
        path = self._query_path(server, query_id)
        try:
            data = json.loads(path.read_bytes())
            if data.get("server") != server.rstrip("/") or data.get("id") != int(query_id):
                raise ValueError("another query")
            return Query.from_json({k: data[k] for k in _QUERY_FIELDS if k in data})
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            self._discard(path, CorruptEntry(str(exc)))
            return None

    # -- data sources (for offline ad-hoc SQL and provenance) -------------------------------
    def _sources_path(self, server: str) -> Path:
        text = json.dumps(["data_sources", FORMAT_VERSION, server.rstrip("/")])
        return self.directory / (hashlib.sha256(text.encode()).hexdigest() + _SOURCES_SUFFIX)

    def store_data_sources(self, server: str, sources: Mapping[int, str]) -> None:
        """Remember the data sources (id → name) last listed online from ``server``."""
        data = json.dumps(
            {
                "format": FORMAT_VERSION,
                "server": server.rstrip("/"),
                "data_sources": [[int(i), str(name)] for i, name in sources.items()],
            },
            ensure_ascii=False,
        ).encode("utf-8")
        self._write_atomically(self._sources_path(server), lambda f: f.write(data))

    def load_data_sources(self, server: str) -> dict[int, str] | None:
        """The data sources (id → name) last listed online from ``server``, or ``None``."""
        path = self._sources_path(server)
        try:
            data = json.loads(path.read_bytes())
            if data.get("server") != server.rstrip("/"):
                raise ValueError("another server")
            return {int(i): str(name) for i, name in data["data_sources"]}
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            self._discard(path, CorruptEntry(str(exc)))
            return None

    # -- housekeeping ----------------------------------------------------------------------
    def clear(self) -> int:
        """Delete the cache's own files; returns the count."""
        removed = 0
        if not self.directory.is_dir():
            return 0
        for pattern in (
            "*" + _RESULT_SUFFIX,
            "*" + _QUERY_SUFFIX,
            "*" + _SOURCES_SUFFIX,
            ".*" + _TMP_SUFFIX,
        ):
            for path in self.directory.glob(pattern):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    removed += 1
        return removed

    def _ensure_directory(self) -> None:
        if not self.directory.is_dir():
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            with contextlib.suppress(OSError):
                os.chmod(self.directory, 0o700)  # mkdir's mode is filtered by the umask

    def _write_atomically(self, path: Path, write) -> None:
        """Write via a temp file in the same folder + ``os.replace``; clean up on any failure."""
        self._ensure_directory()
        # mkstemp creates the file 0o600 and opens it exclusively.
        fd, tmp = tempfile.mkstemp(
            dir=self.directory, prefix="." + path.name[:16], suffix=_TMP_SUFFIX
        )
        try:
            with os.fdopen(fd, "wb") as handle:
                write(handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:  # KeyboardInterrupt too: never leave a partial file behind
            with contextlib.suppress(OSError):
                os.remove(tmp)
            raise

    def _discard(self, path: Path, reason: Exception, opened: BinaryIO | None = None) -> None:
        """Delete an unreadable file, unless another process has already replaced it."""
        try:
            if opened is not None and not os.path.samestat(
                os.fstat(opened.fileno()), os.stat(path)
            ):
                return
            log.warning("discarding unreadable cache file %s: %s", path.name, reason)
            os.remove(path)
        except OSError:
            pass


# --------------------------------------------------------------------------- encoding

_KIND_PANDAS = "pandas"  # NumPy / nullable dtypes: restored with astype(dtype)
_KIND_ARROW = "arrow"  # pd.ArrowDtype columns
_KIND_BIGINT = "bigint"  # object column of Python ints: decimal strings
_KIND_JSON = "json"  # any other object column: one JSON text per cell
_JSON_TYPES = (str, int, float, bool, dict, list)


def _key_json(key: CacheKey) -> list[Any]:
    if key.sql is None:
        return [key.server, key.query_id, key.parameters, key.dtype_backend]
    return [key.server, "sql", key.data_source_id, key.sql, key.parameters, key.dtype_backend]


def _safe_query_json(query: Query) -> dict[str, Any]:
    raw = query.raw or {}
    kept = {name: raw[name] for name in _QUERY_FIELDS if name in raw}
    kept.setdefault("id", query.id)
    kept.setdefault("name", query.name)
    kept.setdefault("query", query.query)
    kept.setdefault("data_source_id", query.data_source_id)
    kept.setdefault("options", {"parameters": list(query.parameters)})
    kept.setdefault("version", query.version)
    kept.setdefault("query_hash", query.query_hash)
    kept.setdefault("latest_query_data_id", query.latest_query_data_id)
    return kept


def _to_table(frame: pd.DataFrame, meta: dict[str, Any]) -> pa.Table:
    import pandas as pd
    import pyarrow as pa

    arrays, columns = [], []
    for position in range(frame.shape[1]):
        series = frame.iloc[:, position]
        name = frame.columns[position]
        if not isinstance(name, str):
            raise Uncacheable(f"column name {name!r} is not a string")
        dtype = series.dtype
        if isinstance(dtype, pd.ArrowDtype):
            arrays.append(pa.chunked_array(pa.array(series)))
            columns.append({"name": name, "kind": _KIND_ARROW})
        elif pd.api.types.is_object_dtype(dtype):
            try:
                kind, array = _encode_objects(series.tolist())
            except Uncacheable as exc:
                raise Uncacheable(f"the object column {name!r} {exc}") from None
            arrays.append(array)
            columns.append({"name": name, "kind": kind})
        else:
            try:
                arrays.append(pa.array(series))
            except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError) as exc:
                raise Uncacheable(f"column {name!r} ({dtype}): {exc}") from None
            columns.append({"name": name, "kind": _KIND_PANDAS, "dtype": str(dtype)})
    names = [f"c{i}" for i in range(len(arrays))]
    table = pa.Table.from_arrays(arrays, names=names) if arrays else pa.table({})
    meta = {**meta, "columns": columns, "rows": len(frame)}
    try:
        meta_text = json.dumps(meta, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise Uncacheable(f"provenance is not JSON: {exc}") from None
    return table.replace_schema_metadata(
        {
            _META_FIELD: meta_text.encode("utf-8"),
            _SCHEMA_FIELD: base64.b64encode(table.schema.serialize().to_pybytes()),
        }
    )


def _encode_objects(values: list[Any]) -> tuple[str, pa.Array]:
    import pyarrow as pa

    present = [v for v in values if v is not None]
    if present and all(_is_integer(v) for v in present):
        # numpy integers among Python ints (a column touched by numpy arithmetic) are the
        # same integers: their decimal text is exact, and they read back as Python ints.
        return _KIND_BIGINT, pa.array([None if v is None else str(v) for v in values], pa.string())
    odd = {type(v).__name__ for v in present if type(v) not in _JSON_TYPES}
    if odd:
        # json.dumps would turn a tuple into a list or a Decimal into an error: not exact.
        raise Uncacheable(f"holds {', '.join(sorted(odd))} values")
    try:
        texts = [None if v is None else json.dumps(v, ensure_ascii=False) for v in values]
    except (TypeError, ValueError) as exc:
        raise Uncacheable(f"holds a value JSON cannot keep: {exc}") from None
    return _KIND_JSON, pa.array(texts, pa.string())


def _is_integer(value: object) -> bool:
    """A Python int or a numpy integer (never a bool, which is no wei amount)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _write_parquet(table: pa.Table, handle) -> None:
    import pyarrow.parquet as pq

    # LZ4: reads in about half zstd's time (1M rows × 8 columns: 0.05 s vs 0.09 s) for a file
    # ~4× larger (23 MB vs 6 MB); a cache hit is read far more often than it is written.
    pq.write_table(table, handle, compression="lz4", write_page_checksum=True)


def _open_entry(handle: BinaryIO) -> tuple[pq.ParquetFile, dict[str, Any]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(handle, page_checksum_verification=True)
        metadata = parquet.schema_arrow.metadata
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise CorruptEntry(f"unreadable Parquet footer ({exc})") from None
    return parquet, _parse_meta(metadata)


def _entry_info(meta: Mapping[str, Any]) -> EntryInfo:
    result = meta["result"]
    if not isinstance(result, dict):
        raise CorruptEntry("metadata without a result object")
    return EntryInfo(
        result_id=result.get("id"),
        retrieved_at=result.get("retrieved_at"),
        query_version=result.get("query_version"),
        query_hash=result.get("query_hash"),
        is_default=bool(result.get("is_default")),
        stored_at=result.get("stored_at", ""),
        query_created_at=result.get("query_created_at"),
        latest_when_stored=result.get("latest_when_stored"),
    )


def _parse_meta(metadata: Mapping[bytes, bytes] | None) -> dict[str, Any]:
    raw = (metadata or {}).get(_META_FIELD)
    if raw is None:
        raise CorruptEntry("no watch_pandas metadata")
    try:
        meta = json.loads(raw)
    except ValueError as exc:
        raise CorruptEntry(f"bad metadata ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_VERSION:
        raise CorruptEntry("metadata of another format version")
    for field in ("key", "result", "attrs", "columns", "rows"):
        if field not in meta:
            raise CorruptEntry(f"metadata without {field!r}")
    return meta


def _read_frame(parquet: pq.ParquetFile, meta: Mapping[str, Any]) -> pd.DataFrame:
    import pyarrow as pa

    try:
        table = parquet.read(use_pandas_metadata=False)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise CorruptEntry(f"{type(exc).__name__}: {exc}") from None
    return _frame_from_table(table, meta)


def _frame_from_table(table: pa.Table, meta: Mapping[str, Any]) -> pd.DataFrame:
    """The frame :func:`_to_table` encoded (columns still named ``c0, c1, …``)."""
    import pandas as pd
    import pyarrow as pa

    try:
        schema = pa.ipc.read_schema(
            pa.py_buffer(base64.b64decode(table.schema.metadata[_SCHEMA_FIELD]))
        )
        if table.num_rows != meta["rows"] or table.num_columns != len(meta["columns"]):
            raise CorruptEntry("row or column count differs from the metadata")
        table = table.cast(schema)
        series = [
            _restore(table.column(i), column, table.num_rows)
            for i, column in enumerate(meta["columns"])
        ]
    except CorruptEntry:
        raise
    except (pa.ArrowException, OSError, ValueError, KeyError, TypeError) as exc:
        raise CorruptEntry(f"{type(exc).__name__}: {exc}") from None
    index = pd.RangeIndex(table.num_rows)
    frame = pd.DataFrame(dict(enumerate(series)), index=index)
    frame.columns = pd.Index([column["name"] for column in meta["columns"]])
    frame.attrs["watch"] = dict(meta["attrs"])
    return frame


def _restore(array: pa.ChunkedArray, column: Mapping[str, Any], n_rows: int) -> pd.Series:
    import pandas as pd

    index = pd.RangeIndex(n_rows)
    kind = column["kind"]
    if kind == _KIND_ARROW:
        return pd.Series(pd.arrays.ArrowExtensionArray(array), index=index)
    if kind == _KIND_BIGINT:
        texts = array.to_pylist()
        if array.null_count:
            values = [None if v is None else int(v) for v in texts]
        else:
            values = list(map(int, texts))
        return pd.Series(values, dtype=object, index=index)
    if kind == _KIND_JSON:
        values = [None if v is None else json.loads(v) for v in array.to_pylist()]
        return pd.Series(values, dtype=object, index=index)
    if kind == _KIND_PANDAS:
        from ._decode._dtypes import NULLABLE_DTYPES  # the decoder's table: the same dtypes

        series = array.to_pandas(types_mapper=NULLABLE_DTYPES.get)
        dtype = pd.api.types.pandas_dtype(column["dtype"])
        if series.dtype != dtype:
            series = series.astype(dtype)
        series.index = index
        return series
    raise CorruptEntry(f"unknown column kind {kind!r}")
