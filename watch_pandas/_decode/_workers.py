"""How many threads decode a result, and the pool they run in.

The row scanner works without the GIL and Arrow's kernels release it, so a result's batches
(and then its columns) are decoded on several threads at once. The count is the ``workers``
argument of :func:`watch_pandas._decode.read_result`, else ``$WATCH_DECODE_WORKERS``, else the
CPUs this process may run on (at most :data:`DEFAULT_MAX`); ``1`` decodes on the calling
thread, as before. See docs/performance.md#decoding-on-every-core.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from ..errors import ConfigError

ENV_WORKERS = "WATCH_DECODE_WORKERS"
DEFAULT_MAX = 16  # more threads than this gain nothing while a body arrives
_T = TypeVar("_T")


def default_workers() -> int:
    """The CPUs this process may use (its affinity, not the machine's count), capped."""
    counter = getattr(os, "process_cpu_count", None)  # Python 3.13+
    if counter is not None:
        usable = counter()
    elif hasattr(os, "sched_getaffinity"):
        usable = len(os.sched_getaffinity(0))
    else:  # pragma: no cover - macOS and Windows before 3.13
        usable = os.cpu_count()
    return max(1, min(usable or 1, DEFAULT_MAX))


def decode_workers(given: object = None) -> int:
    """The worker count: ``given``, else ``$WATCH_DECODE_WORKERS``, else the default."""
    if given is not None:
        if isinstance(given, bool) or not isinstance(given, int) or given < 1:
            raise ConfigError(
                f"workers must be a whole number ≥ 1 (1 decodes on the calling thread), "
                f"not {given!r}."
            )
        return given
    text = os.environ.get(ENV_WORKERS, "").strip()
    if not text:
        return default_workers()
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ConfigError(
            f"{ENV_WORKERS} must be a whole number ≥ 1 (1 decodes on the calling thread; unset: "
            f"one per CPU, {default_workers()} here), not {text!r}."
        )
    return value


class DecodePool:
    """The threads of one read, started only when there is a second batch or column to
    decode (a small result never starts one); ``with`` ends them, dropping queued work."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._executor: ThreadPoolExecutor | None = None

    def submit(self, fn: Callable[..., _T], *args: Any) -> Future[_T]:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="watch-decode")
        return self._executor.submit(fn, *args)

    def map(self, fn: Callable[[Any], _T], items: list[Any]) -> list[_T]:
        """``fn`` of each item, in order; on the calling thread for one worker or item, or
        when nothing has started the threads yet (a result smaller than its first batch: its
        columns take less time than handing them over would)."""
        if self.workers <= 1 or len(items) <= 1 or self._executor is None:
            return [fn(item) for item in items]
        futures = [self.submit(fn, item) for item in items]
        return [future.result() for future in futures]

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def __enter__(self) -> DecodePool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
