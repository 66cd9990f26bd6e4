"""The cache folder and its files: where it is, names, atomic writes, the size cap.

:class:`ResultCache` reads and writes entries (frames encoded by :mod:`._encoding`, stored as
Parquet), query definitions and data source lists; whether an entry may be served is decided
by :mod:`._rules` (package docstring: the whole design).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from .. import _params as _params
from ..errors import ConfigError
from ..models import Query
from ._encoding import FORMAT_VERSION, META_FIELD, CorruptEntry, frame_from_table, to_table

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

log = logging.getLogger("watch_pandas.cache")

CACHE_DIR_ENV = "WATCH_CACHE_DIR"
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

_RESULT_SUFFIX = ".parquet"
_QUERY_SUFFIX = ".query.json"
_SOURCES_SUFFIX = ".sources.json"
_TMP_SUFFIX = ".tmp"
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


def clear_cache(cache_dir: str | os.PathLike[str] | None = None) -> int:
    """Delete every cached result, query definition and data source list; returns how many
    files were removed.

    Only the cache's own files (``*.parquet``, ``*.query.json``, ``*.sources.json``, leftover
    ``*.tmp``) are touched, so pointing ``cache_dir`` at a shared folder removes nothing else.
    """
    return ResultCache(cache_dir).clear()


# --------------------------------------------------------------------------- keys and entries


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


# --------------------------------------------------------------------------- the store


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
        table = to_table(frame, meta)
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
    raw = (metadata or {}).get(META_FIELD)
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
    return frame_from_table(table, meta)
