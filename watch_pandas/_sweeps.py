"""``read_watch_sweep``: one saved query run over many parameter sets, as one DataFrame.

Decisions:

* **Parts**: a dict of lists is a grid (every combination, the first name varying slowest); a
  list of dicts is taken as given. ``params`` are fixed values for every part (not columns).
  Every part is validated (and duplicates refused) before anything runs.
* **Each part is a normal read** (:func:`watch_pandas._read.read_saved_query`): the local
  cache first, then the server. So a sweep that failed or was interrupted **resumes**: run it
  again and only the parts not in the local cache execute (with ``max_age=None``, the default,
  or one long enough; ``cache=False`` never resumes).
* **Concurrency**: at most ``max_workers`` parts at once (default 3, kind to the server), on
  the pool shared with dashboards (:mod:`watch_pandas._pool`): a client per worker thread,
  Ctrl-C cancels every running job and starts no more. The transport honours 429/503
  ``Retry-After``.
* **Columns**: each swept parameter becomes a column before the result's own, with the value
  the part ran with (saved defaults included): a range parameter becomes two,
  ``<name>_start`` and ``<name>_end``; dates and datetimes are datetime columns, multi-value
  parameters tuples (hashable, so ``groupby`` works). A name the result already has gets
  ``_param`` appended.
* **Dtypes**: a part without rows takes the dtypes of the parts with rows
  (:func:`typed_like`): the types only values tell (an untyped column's, a datetime's zone)
  would otherwise differ, and one empty period would turn the whole column to ``object``.
* **Output**: ``output="arrow"|"polars"`` decodes the parts with the ``pyarrow`` backend and
  converts the one combined frame in :mod:`watch_pandas._output`, as every read does; such a
  result has no ``errors`` attribute: the failed parts are in its provenance (``failed``).
* **Failures** are reported as dashboards report widgets: the result's ``errors`` maps each
  failed part's label (``period=2024-01-01..2024-01-31 chain=arbitrum``) to its exception,
  with a warning; ``errors="raise"`` (or every part failing) raises :class:`SweepError`
  carrying ``.frame`` and ``.errors``.
* **Progress**: the listeners see the sweep, not each job: parts done / total, rows so far,
  elapsed and an estimate of the time left (:class:`watch_pandas.ProgressEvent`).
"""

from __future__ import annotations

import itertools
import os
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from . import _cache as _cache
from . import _output as _output
from . import _params as _params
from . import _read as _read
from ._client._args import as_id
from ._deadline import deadline
from ._pool import Interrupt, WorkerClients, first_line, run_all
from ._progress import Progress, ProgressEvent, ProgressListener, Ticker, progress_listeners
from .errors import ConfigError, ParameterError, SweepError, WatchError, WatchTimeoutError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from ._client import WatchClient
    from ._decode import DtypeBackend
    from ._output import Output, ReadOutput
    from .models import Query

__all__ = [
    "read_watch_sweep",
    "SweepError",
    "Sweep",
    "expand_parts",
    "plan_sweep",
    "combine",
    "part_with_columns",
    "typed_like",
]

Parts = Mapping[str, Sequence[Any]] | Sequence[Mapping[str, Any]]
_DATE_KINDS = frozenset(_params.DATE_TYPES)


def read_watch_sweep(
    query_id: int,
    parts: Parts,
    *,
    params: Mapping[str, Any] | None = None,
    max_workers: int = 3,
    errors: Literal["warn", "raise"] = "warn",
    max_age: int | None = None,
    url: str | None = None,
    api_key: str | None = None,
    profile: str | None = None,
    timeout: float | None = None,
    dtype_backend: DtypeBackend = "numpy_nullable",
    progress: Progress = None,
    client: WatchClient | None = None,
    cache: bool = True,
    offline: bool | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    output: Output = "pandas",
) -> ReadOutput:
    """Run a saved query once per parameter set and return every result in one DataFrame.

    ``parts`` is a grid (``{"period": date_ranges(...), "chain": ["ethereum", "arbitrum"]}``:
    every combination) or a list of parameter dicts; ``params`` are fixed for every part. The
    swept parameters become columns (a range as ``<name>_start``/``<name>_end``). Each part is
    read as :func:`read_watch_query` reads (same options, local cache included), at most
    ``max_workers`` at once; every part is validated before anything runs. A sweep that failed
    or was interrupted resumes: run it again and only the parts not in the local cache run.
    Failed parts are in the result's ``errors`` (label → exception) with a warning;
    ``errors="raise"`` raises :class:`SweepError` instead. ``timeout`` bounds the whole sweep.
    ``output="arrow"`` returns a ``pyarrow.Table``, ``"polars"`` a polars DataFrame (as in
    :func:`read_watch_query`; their failed parts are in the provenance's ``failed``).
    """
    query_id = as_id(query_id, "query_id")
    if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1:
        raise ConfigError(f"max_workers must be an integer >= 1 (such as 3), not {max_workers!r}.")
    if errors not in ("warn", "raise"):
        raise ConfigError(f"errors must be 'warn' or 'raise', not {errors!r}.")
    max_age, timeout = _read.check_read_options(
        max_age=max_age, timeout=timeout, dtype_backend=dtype_backend
    )
    output = _output.check_output(output)
    dtype_backend = _output.decode_backend(output, dtype_backend)
    given, swept = expand_parts(parts, _params.as_params(params))
    results = _cache.open_cache(cache, offline, cache_dir)
    listeners = progress_listeners(progress)
    started = time.monotonic()
    if _cache.is_offline(offline):
        assert results is not None  # open_cache refuses offline without a cache
        server = _read.server_url(client, url, api_key, profile)
        query = _read.offline_saved_query(results, server, query_id)
        plan = plan_sweep(server, query, given, swept, dtype_backend)
        meter = _Meter(plan, listeners, started)

        def read_offline(index: int) -> pd.DataFrame:
            return _read.read_query_offline(
                results,
                server,
                query_id,
                plan.given[index],
                max_age=max_age,
                dtype_backend=dtype_backend,
                progress=False,
            )

        frames, failures = meter.run_in_order(read_offline)
        return _outcome(plan, frames, failures, errors, output)

    with _read.client_for(client, url, api_key, profile) as watch, deadline(timeout):
        plan = plan_sweep(watch.url, watch.get_query(query_id), given, swept, dtype_backend)
        meter = _Meter(plan, listeners, started)
        interrupt = Interrupt()

        def read_one(index: int, _: None, own: WatchClient) -> pd.DataFrame:
            if interrupt.stop.is_set():
                raise KeyboardInterrupt
            remaining = None if timeout is None else timeout - (time.monotonic() - started)
            if remaining is not None and remaining <= 0:
                raise WatchTimeoutError(
                    f"Gave up before reading part {plan.labels[index]!r}: the sweep's timeout "
                    f"of {timeout:g} s had passed.",
                    query_id=query_id,
                )
            return _read.read_saved_query(
                own,
                plan.query,
                plan.given[index],
                max_age=max_age,
                timeout=remaining,
                dtype_backend=dtype_backend,
                listeners=[interrupt.tracker()],  # the listeners see the sweep, not each job
                results=results,
            )

        workers = WorkerClients(watch if client is not None else None, url, api_key, profile)
        with meter.ticker:
            meter.start()
            try:
                frames, failures = run_all(
                    [(index, None) for index in range(len(plan.given))],
                    read_one,
                    workers,
                    max_workers,
                    on_interrupt=lambda: interrupt.cancel_all(watch),
                    on_done=meter.part_done,
                )
            except KeyboardInterrupt:
                meter.finish("cancelled", 0)
                raise
            except BaseException:
                meter.finish("failed", 0)
                raise
            finally:
                workers.close()
            meter.finish("done" if frames else "failed", len(failures))
    return _outcome(plan, frames, failures, errors, output)


# -- the parts -----------------------------------------------------------------------------
def expand_parts(parts: object, fixed: Mapping[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    """Each part's given values (``fixed`` included) and the swept names, in order."""
    if isinstance(parts, Mapping):
        if not parts:
            raise _parts_error(parts, "a grid needs at least one parameter with values")
        names = []
        for name, values in parts.items():
            if not isinstance(name, str):
                raise _parts_error(parts, f"the grid's keys are parameter names, not {name!r}")
            if isinstance(values, (str, bytes, Mapping)) or not _is_sequence(values):
                raise _parts_error(
                    parts,
                    f"the grid's {name!r} must be a list of values (one per part), not "
                    f"{values!r}; wrap a single value in a list",
                )
            if not len(values):
                raise _parts_error(parts, f"the grid's {name!r} needs at least one value")
            names.append(name)
        combos = itertools.product(*(list(parts[name]) for name in names))
        given = [dict(zip(names, combo, strict=True)) for combo in combos]
    elif isinstance(parts, Sequence) and not isinstance(parts, (str, bytes)):
        given = []
        names = []
        for part in parts:
            if not isinstance(part, Mapping):
                raise _parts_error(
                    parts, f"each part of a list is a dict of parameter values, not {part!r}"
                )
            given.append(dict(part))
            names.extend(name for name in part if name not in names)
        if not given:
            raise _parts_error(parts, "a list of parts needs at least one parameter dict")
    else:
        raise _parts_error(
            parts, "give a grid (a dict of lists of values) or a list of parameter dicts"
        )
    both = [name for name in names if name in fixed]
    if both:
        raise ParameterError(
            f"Parameter(s) {', '.join(map(repr, both))} are both swept and fixed in params=; "
            "give each either as a swept value or as a fixed one.",
            name=both[0],
        )
    return [{**fixed, **part} for part in given], names


def _is_sequence(value: object) -> bool:
    return hasattr(value, "__len__") and hasattr(value, "__iter__")


def _parts_error(parts: object, why: str) -> ParameterError:
    shown = repr(parts)
    shown = shown if len(shown) <= 120 else shown[:117] + "..."
    return ParameterError(
        f"Bad sweep {shown}: {why}. Expected a grid such as "
        "{'period': date_ranges('2024-01-01', '2024-12-31', 'MS'), 'chain': ['ethereum']} "
        "or a list of parameter dicts such as [{'chain': 'ethereum'}, {'chain': 'arbitrum'}].",
        value=parts,
        allowed="a dict of lists, or a list of dicts",
    )


@dataclass(frozen=True)
class Sweep:
    """A validated sweep: the query, each part's given values, wire values and label."""

    server: str
    query: Query
    swept: list[str]
    given: list[dict[str, Any]]
    wires: list[dict[str, Any]]
    labels: list[str]
    columns: pd.DataFrame  # the swept columns, one row per part
    dtype_backend: str


def plan_sweep(
    server: str, query: Query, given: list[dict[str, Any]], swept: list[str], dtype_backend: str
) -> Sweep:
    """Validate every part (as a read would) and refuse the same parameter set twice."""
    wires = []
    seen: dict[Any, int] = {}
    for index, values in enumerate(given):
        plan = _read.plan_query(server, query, values, dtype_backend)
        if plan.key in seen:
            raise ParameterError(
                f"Parts {seen[plan.key] + 1} and {index + 1} of the sweep are the same "
                f"parameter set ({_label(swept, plan.wire)}); a part given twice would repeat "
                "its rows. Give each parameter set once.",
                value=values,
            )
        seen[plan.key] = index
        wires.append(plan.wire)
    definitions = {d.name: d for d in _params.parse_definitions(query.parameters)}
    return Sweep(
        server=server,
        query=query,
        swept=swept,
        given=given,
        wires=wires,
        labels=[_label(swept, wire) for wire in wires],
        columns=_swept_columns(swept, definitions, wires, dtype_backend),
        dtype_backend=dtype_backend,
    )


def _label(swept: list[str], wire: Mapping[str, Any]) -> str:
    def show(value: Any) -> str:
        if isinstance(value, Mapping) and set(value) == {"start", "end"}:
            return f"{value['start']}..{value['end']}"
        if isinstance(value, list):
            return ",".join(map(str, value))
        return str(value)

    return " ".join(f"{name}={show(wire.get(name))}" for name in swept)


def _swept_columns(
    swept: list[str],
    definitions: Mapping[str, _params.ParameterDefinition],
    wires: list[dict[str, Any]],
    dtype_backend: str,
) -> pd.DataFrame:
    """One row per part: the values it ran with, typed by the parameter's type."""
    import pandas as pd

    columns: dict[str, Any] = {}
    for name in swept:
        kind = definitions[name].type if name in definitions else ""
        values = [wire.get(name) for wire in wires]
        if kind in _params.RANGE_TYPES:
            for end in ("start", "end"):
                columns[f"{name}_{end}"] = pd.to_datetime([(v or {})[end] for v in values])
        elif kind in _DATE_KINDS:
            columns[name] = pd.to_datetime(values)
        else:  # multi-value lists as tuples: hashable, so the column groups and compares
            values = [tuple(v) if isinstance(v, list) else v for v in values]
            columns[name] = pd.Series(values, dtype=object)
    frame = pd.DataFrame(columns)
    if dtype_backend == "pyarrow" or frame.dtypes.eq(object).any():
        frame = frame.convert_dtypes(dtype_backend=dtype_backend)
    return frame


# -- the frame -----------------------------------------------------------------------------
def combine(
    sweep: Sweep,
    frames: Mapping[int, pd.DataFrame],
    failures: Mapping[int, Exception] | None = None,
) -> pd.DataFrame:
    """One frame of the parts that worked, in the sweep's order, swept columns first.

    The one place parts are concatenated (the column naming, dtype and provenance rules live
    here): parts without rows take the dtypes of the parts with rows (:func:`typed_like`)."""
    import pandas as pd

    pieces = []
    for index in sorted(frames):
        pieces.append(part_with_columns(sweep.columns.iloc[[index]], frames[index]))
    with_rows = [piece for piece in pieces if len(piece)]
    if with_rows and len(with_rows) < len(pieces):
        like = pd.concat([piece.iloc[:0] for piece in with_rows], ignore_index=True)
        pieces = [piece if len(piece) else typed_like(piece, like) for piece in pieces]
    if pieces:
        out = pd.concat(pieces, ignore_index=True) if len(pieces) > 1 else pieces[0]
    else:
        out = _renamed(sweep.columns.iloc[:0], ()).reset_index(drop=True)
    out.attrs = {"watch": _provenance(sweep, frames, failures or {})}
    return out


def typed_like(frame: pd.DataFrame, like: pd.DataFrame) -> pd.DataFrame:
    """``frame``, a part without rows, with the dtypes ``like`` has for the same columns.

    An empty result has its columns typed from the server's column types alone; what only
    values tell (an untyped column's type, a datetime's zone) it cannot have. Frames with rows
    are returned as they are (their values decided their dtypes)."""
    import pandas as pd

    if len(frame):
        return frame
    if frame.columns.equals(like.columns):
        dtypes = list(like.dtypes)
    elif frame.columns.is_unique and like.columns.is_unique:
        dtypes = [
            like.dtypes[name] if name in like.columns else frame.dtypes[name]
            for name in frame.columns
        ]
    else:  # repeated names that do not line up: nothing says which is which
        return frame
    out = pd.DataFrame(
        {i: pd.array([], dtype=dtype) for i, dtype in enumerate(dtypes)}, index=pd.RangeIndex(0)
    )
    out.columns = frame.columns
    out.attrs = dict(frame.attrs)
    return out


def part_with_columns(values: pd.DataFrame, frame: pd.DataFrame) -> pd.DataFrame:
    """One part's rows with its swept values (``values``, one row) in front; also each Dask
    partition."""
    import pandas as pd

    repeated = values.iloc[[0] * len(frame)].reset_index(drop=True)
    out = pd.concat([_renamed(repeated, frame.columns), frame.reset_index(drop=True)], axis=1)
    out.attrs = {}
    return out


def _renamed(values: pd.DataFrame, taken: Any) -> pd.DataFrame:
    clash = {name: f"{name}_param" for name in values.columns if name in set(taken)}
    return values.rename(columns=clash) if clash else values


def _provenance(
    sweep: Sweep, frames: Mapping[int, pd.DataFrame], failures: Mapping[int, Exception]
) -> dict[str, Any]:
    query = sweep.query
    first: dict[str, Any] = next((frames[i].attrs["watch"] for i in sorted(frames)), {})
    common = ("server", "query_id", "query_name", "query_url", "data_source_id", "data_source")
    shared = {key: first.get(key) for key in common}
    shared.update(server=sweep.server, query_id=query.id, query_name=query.name)
    parts = []
    for index in sorted(frames):
        attrs = dict(frames[index].attrs.get("watch", {}))
        parts.append({k: v for k, v in attrs.items() if k not in common} | {"part": index})
    failed = {sweep.labels[index]: first_line(failures[index]) for index in sorted(failures)}
    return {**shared, "swept": list(sweep.swept), "parts": parts, "failed": failed}


def _outcome(
    sweep: Sweep,
    frames: dict[int, pd.DataFrame],
    failures: dict[int, Exception],
    errors: str,
    output: Output = "pandas",
) -> ReadOutput:
    """The sweep's result as ``output`` (a :class:`SweepFrame` for pandas), or SweepError
    carrying it; a warning for the failed parts."""
    from ._sweep_frame import SweepFrame

    labelled = {sweep.labels[index]: exc for index, exc in failures.items()}
    combined = combine(sweep, frames, failures)
    frame: Any = SweepFrame(combined, errors=labelled)
    frame.attrs = combined.attrs
    if output != "pandas":
        frame = _output.convert(combined, output)
    total = len(sweep.given)
    if failures and (not frames or errors == "raise"):
        lines = "; ".join(f"{label!r}: {first_line(exc)}" for label, exc in labelled.items())
        what = "every part" if not frames else f"{len(failures)} of {total} parts"
        raise SweepError(
            f"Sweep of query {sweep.query.id} ({sweep.query.name!r}): {what} failed ({lines}).",
            frame=frame,
            errors=labelled,
        )
    if failures:
        lines = "; ".join(f"{label!r}: {first_line(exc)}" for label, exc in labelled.items())
        where = ".errors" if output == "pandas" else "the provenance's 'failed'"
        warnings.warn(
            f"Sweep of query {sweep.query.id}: {len(failures)} of {total} parts failed and are "
            f"left out ({lines}); see {where} of the result, and run the sweep again to run "
            "only the missing parts.",
            RuntimeWarning,
            stacklevel=3,
        )
    return frame


# -- progress ------------------------------------------------------------------------------
class _Meter:
    """The sweep's progress: parts done of total, rows so far, elapsed and time left."""

    def __init__(self, sweep: Sweep, listeners: list[ProgressListener], started: float) -> None:
        self.sweep = sweep
        self.listeners = listeners
        # the elapsed time keeps moving between part completions (inside ``with meter.ticker``)
        self.ticker = Ticker(listeners)
        self.started = started
        self.done = 0
        self.rows = 0

    def start(self) -> None:
        self._emit("running")

    def part_done(self, index: int, frame: pd.DataFrame | None, exc: Exception | None) -> None:
        self.done += 1
        if frame is not None:
            self.rows += len(frame)
        self._emit("running", f"failed: {self.sweep.labels[index]}" if exc is not None else "")

    def finish(self, state: Any, failed: int) -> None:
        self._emit(state, f"{failed} failed" if failed else "")

    def run_in_order(self, read: Any) -> tuple[dict[int, pd.DataFrame], dict[int, Exception]]:
        """Every part one after the other (offline: nothing waits on a server)."""
        frames: dict[int, pd.DataFrame] = {}
        failures: dict[int, Exception] = {}
        with self.ticker:
            self.start()
            for index in range(len(self.sweep.given)):
                try:
                    frames[index] = read(index)
                except WatchError as exc:
                    failures[index] = exc
                    self.part_done(index, None, exc)
                else:
                    self.part_done(index, frames[index], None)
            self.finish("done" if frames else "failed", len(failures))
        return frames, failures

    def _emit(self, state: Any, message: str = "") -> None:
        elapsed = time.monotonic() - self.started
        total = len(self.sweep.given)
        remaining = None
        if self.done and state == "running":
            remaining = elapsed / self.done * (total - self.done)
        self.ticker(
            ProgressEvent(
                state=state,
                elapsed=elapsed,
                query_id=self.sweep.query.id,
                message=message,
                parts_done=self.done,
                parts_total=total,
                rows=self.rows,
                eta=remaining,
            ),
        )
