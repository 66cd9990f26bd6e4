"""What every part of the backend shares; ``Backend.__init__`` sets it up."""

from __future__ import annotations

import threading

from .._faults import Counters
from .._jobs import JobManager
from .._store import Store


class State:
    """The store, the jobs and the lock behind one server's domain operations."""

    store: Store
    jobs: JobManager
    counters: Counters
    # Held around read-modify-write of saved queries: a finishing job updates them too.
    _lock: threading.RLock
