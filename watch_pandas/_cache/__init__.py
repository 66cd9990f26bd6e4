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

Modules
    :mod:`._store` the folder and its files (:class:`ResultCache`), :mod:`._encoding` a frame
    as an Arrow table and back (shared with :mod:`watch_pandas._files`), :mod:`._rules` every
    rule of when the cache serves a read.

Scope: the cache trusts whoever may read the OS user's files. Online, the server still checks
the key for every read (the ``GET`` of the query); offline, nothing is checked.
"""

from __future__ import annotations

from ._encoding import FORMAT_VERSION, CorruptEntry, Uncacheable, frame_from_table, to_table
from ._rules import (
    OFFLINE_ENV,
    age_seconds,
    is_default_run,
    is_offline,
    keep,
    known_sources,
    needs_network,
    offline_miss,
    offline_query,
    offline_source_id,
    open_cache,
    remember_sources,
    serve,
    serve_offline,
    unusable_folder,
    usable,
)
from ._store import (
    CACHE_DIR_ENV,
    DEFAULT_MAX_BYTES,
    LOCAL_CACHE,
    MAX_BYTES_ENV,
    CacheKey,
    EntryInfo,
    Lookup,
    ResultCache,
    cache_directory,
    clear_cache,
    max_cache_bytes,
)

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
    "offline_miss",
    "age_seconds",
    "MAX_BYTES_ENV",
    "DEFAULT_MAX_BYTES",
    "max_cache_bytes",
    "FORMAT_VERSION",
    "CorruptEntry",
    "Uncacheable",
    "to_table",
    "frame_from_table",
]
