"""Sweeps on Dask: :func:`read_watch_sweep` as a ``dask.dataframe``, one partition per part.

Needs the ``dask`` extra (``pip install "watch-pandas[dask]"``). The partitions are computed on
whatever scheduler is active: threads by default, or the ``distributed.Client`` in use.

**How the key travels.** It never does, in the task graph. Each partition carries a
:class:`WatchCredentials`: the server URL and a *reference* to the key, which the worker looks
up where it runs:

* by default, the worker's own configuration (``WATCH_URL``/``WATCH_API_KEY`` or a profile,
  as every read resolves them);
* ``WatchCredentials(url, api_key_env="NAME")``: the environment variable ``NAME`` on the
  worker;
* ``api_key=`` given to :func:`read_watch_sweep`: the key stays in this process (a registry
  the graph names by a random token); workers in this process (the threaded scheduler,
  ``LocalCluster(processes=False)``) find it, workers in other processes or on other machines
  cannot and raise :class:`~watch_pandas.errors.ConfigError` saying how to configure them.

Nothing encrypts a key "at rest" in a graph: a worker able to decrypt it would hold the
secret anyway, so the graph holds none. See docs/sweeps.md for how this scales.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import _cache as _cache
from . import _output as _output
from . import _params as _params
from . import _read as _read
from ._client._args import as_id
from ._sweeps import Parts, expand_parts, part_with_columns, plan_sweep, typed_like
from .errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from ._decode import DtypeBackend

__all__ = ["read_watch_sweep", "WatchCredentials"]

_KEYS: dict[str, str] = {}  # token -> key given in this process; never pickled
_KEYS_LOCK = threading.Lock()


@dataclass(frozen=True)
class WatchCredentials:
    """Where a worker finds the server and its key; its repr and pickled form hold no key.

    ``url``/``profile`` as for every read (``None``: the worker's own configuration);
    ``api_key_env`` names an environment variable that holds the key on the worker. Use
    :meth:`from_key` for a key held by this process only.
    """

    url: str | None = None
    profile: str | None = None
    api_key_env: str | None = None
    key_ref: str | None = field(default=None, repr=False)

    @classmethod
    def from_key(
        cls, url: str | None, api_key: str, profile: str | None = None
    ) -> WatchCredentials:
        """Credentials whose key stays in this process; the graph carries a random token."""
        token = secrets.token_hex(16)
        with _KEYS_LOCK:
            _KEYS[token] = api_key
        return cls(url, profile, key_ref=token)

    def resolve(self) -> tuple[str | None, str | None, str | None]:
        """``(url, api_key, profile)`` for a WatchClient where this runs (the key ``None``:
        the configuration's). ConfigError if the key it refers to is not here."""
        if self.key_ref is not None:
            with _KEYS_LOCK:
                key = _KEYS.get(self.key_ref)
            if key is None:
                raise ConfigError(
                    f"This Dask worker (process {os.getpid()}) cannot use the API key given as "
                    "api_key=: it stays in the process that gave it and is never put in the "
                    "task graph. Configure the workers instead: set WATCH_URL and "
                    "WATCH_API_KEY (or a profile) in their environment and leave api_key= "
                    "out, or pass credentials=WatchCredentials(url, api_key_env='NAME')."
                )
            return self.url, key, self.profile
        if self.api_key_env is not None:
            key = os.environ.get(self.api_key_env, "").strip()
            if not key:
                raise ConfigError(
                    f"The environment variable {self.api_key_env} (named by "
                    f"WatchCredentials(api_key_env=...)) is not set in this process "
                    f"({os.getpid()}); set it to the API key on every Dask worker."
                )
            return self.url, key, self.profile
        return self.url, None, self.profile

    def __repr__(self) -> str:
        if self.key_ref is not None:
            where = "the key held by the process that made it"
        elif self.api_key_env is not None:
            where = f"the key from ${self.api_key_env}"
        else:
            where = "the worker's own configuration"
        profile = f", profile={self.profile!r}" if self.profile else ""
        return f"WatchCredentials(url={self.url!r}{profile}, {where})"


@dataclass(frozen=True)
class _Part:
    """One partition's task: what to read and how, never a key."""

    credentials: WatchCredentials
    query_id: int
    wire: dict[str, Any]
    columns: Any  # the part's swept values (a one-row DataFrame)
    max_age: int | None
    timeout: float | None
    dtype_backend: str
    cache: bool
    cache_dir: str | None


def read_watch_sweep(
    query_id: int,
    parts: Parts,
    *,
    params: Mapping[str, Any] | None = None,
    meta: pd.DataFrame | None = None,
    credentials: WatchCredentials | None = None,
    url: str | None = None,
    api_key: str | None = None,
    profile: str | None = None,
    max_age: int | None = None,
    timeout: float | None = None,
    dtype_backend: DtypeBackend = "numpy_nullable",
    cache: bool = True,
    cache_dir: str | os.PathLike[str] | None = None,
    output: str = "pandas",
) -> Any:
    """A lazy ``dask.dataframe`` of a sweep: one partition per parameter set.

    ``parts`` and ``params`` as in :func:`watch_pandas.read_watch_sweep` (every part validated
    here, before anything runs); the partitions equal that function's frame, part by part,
    whatever Dask's ``dataframe.convert-string`` says (tuples stay tuples). ``meta`` (an
    empty frame with the final columns) is read from the first part with rows when not given:
    parts run here, in order and through the local cache, until one has rows; a partition
    without rows takes ``meta``'s dtypes. Workers reach the server with ``credentials``, else
    ``url``/``api_key``/``profile`` (module docstring: how the key travels). ``timeout``
    bounds each partition's read; a failing part fails the compute. ``output`` is
    ``"pandas"`` only: the partitions are pandas frames.
    """
    if output != "pandas":
        _output.check_output(output)  # a name that is no output at all: the choices
        raise ConfigError(
            f"watch_pandas.dask.read_watch_sweep gives a dask.dataframe of pandas partitions, "
            f"so output={output!r} is not available here. Use watch_pandas.read_watch_sweep"
            f"(..., output={output!r}) for one table, or convert each partition "
            "(ddf.to_parquet(...), or pyarrow.Table.from_pandas on computed partitions)."
        )
    dd = _dask_dataframe()
    query_id = as_id(query_id, "query_id")
    max_age, timeout = _read.check_read_options(
        max_age=max_age, timeout=timeout, dtype_backend=dtype_backend
    )
    if credentials is not None and (url is not None or api_key is not None or profile):
        raise ConfigError(
            "Pass either credentials= or url=/api_key=/profile=, not both: the credentials "
            "already say where the workers find the server and its key."
        )
    if credentials is None:
        credentials = (
            WatchCredentials.from_key(url, api_key, profile)
            if api_key is not None
            else WatchCredentials(url, profile)
        )
    elif not isinstance(credentials, WatchCredentials):
        raise ConfigError(
            f"credentials must be a watch_pandas.dask.WatchCredentials, not {credentials!r}."
        )
    given, swept = expand_parts(parts, _params.as_params(params))
    folder = None if cache_dir is None else os.fspath(cache_dir)
    with _read.client_for(None, *credentials.resolve()) as watch:
        sweep = plan_sweep(watch.url, watch.get_query(query_id), given, swept, dtype_backend)
        tasks = [
            _Part(
                credentials,
                query_id,
                wire,
                sweep.columns.iloc[[index]],
                max_age,
                timeout,
                dtype_backend,
                cache,
                folder,
            )
            for index, wire in enumerate(sweep.wires)
        ]
        if meta is None:
            meta = _first_with_rows(tasks, watch).iloc[:0]
    import dask

    # Dask's dataframe.convert-string (on by default) would turn every object column into
    # strings, tuples into their repr: the partitions and meta are the pandas sweep's as is.
    with dask.config.set({"dataframe.convert-string": False}):
        return dd.from_map(
            _read_part,
            tasks,
            args=[meta],
            meta=meta,
            label="read-watch-sweep",
            enforce_metadata=False,
        )


def _first_with_rows(tasks: list[_Part], watch: Any) -> pd.DataFrame:
    """The first part with rows (read here, in order): an empty one's dtypes lack what only
    values tell (an untyped column's type, a datetime's zone). The last part if none has."""
    for task in tasks:
        frame = _read_part(task, None, client=watch)
        if len(frame):
            break
    return frame


def _read_part(task: _Part, meta: pd.DataFrame | None, client: Any = None) -> pd.DataFrame:
    """Read one part where the task runs (its own client, cache and configuration); without
    rows, with ``meta``'s dtypes."""
    results = _cache.open_cache(task.cache, False, task.cache_dir)
    with _read.client_for(client, *task.credentials.resolve()) as watch:
        frame = _read.read_saved_query(
            watch,
            watch.get_query(task.query_id),
            task.wire,
            max_age=task.max_age,
            timeout=task.timeout,
            dtype_backend=task.dtype_backend,  # type: ignore[arg-type]  # checked by the caller
            listeners=[],
            results=results,
        )
    part = part_with_columns(task.columns, frame)
    return part if meta is None else typed_like(part, meta)


def _dask_dataframe() -> Any:
    try:
        import dask.dataframe as dd
    except ImportError as exc:
        raise ImportError('watch_pandas.dask needs Dask: pip install "watch-pandas[dask]"') from exc
    return dd
