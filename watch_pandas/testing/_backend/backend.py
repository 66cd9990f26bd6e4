"""``Backend``: the domain of one local Watch server, with no HTTP in it."""

from __future__ import annotations

import threading

from .._faults import Counters
from .._jobs import JobManager
from .._renderers import Renderers
from .._store import Store
from .dashboards import Dashboards
from .execution import Execution
from .queries import Queries
from .schema import Schemas
from .visualizations import Visualizations

SERIALIZE_STORED = "stored"
SERIALIZE_PER_REQUEST = "per-request"
SERIALIZE_MODES = (SERIALIZE_STORED, SERIALIZE_PER_REQUEST)


class Backend(Visualizations, Queries, Dashboards, Execution, Schemas):
    """Users and keys, data sources, queries, results and jobs, dashboards of one server,
    and the server-wide switches the HTTP layer reads."""

    def __init__(
        self,
        store: Store,
        *,
        counters: Counters,
        workers: int = 2,
        execution_delay: float = 0.0,
        admin_key: str | None = None,
        date_format: str = "DD/MM/YY",
        time_format: str = "HH:mm",
    ) -> None:
        self.store = store
        self.counters = counters
        self.base_url = ""
        # v8 generation: GET/DELETE /api/dashboards/<slug> (POST edits still take the id)
        self.dashboard_slug_routes = False
        # "stored": result bodies stream from the stored rows; "per-request": each JSON/CSV
        # body is encoded from the rows before its first byte (Redash's handlers)
        self.serialize = SERIALIZE_STORED
        # who builds per-request bodies: this process, and helpers when it is busy
        self.renderers = Renderers()
        self._lock = threading.RLock()
        self._fail_rules = []
        self.jobs = JobManager(
            store,
            workers=workers,
            execution_delay=execution_delay,
            on_result=self._on_result,
            failure_for=self._failure_for,
        )
        if store.setting("date_format") is None:
            self.set_date_format(date_format, time_format)
        admin = self.store.get("users", 1)
        if admin is None:
            self.create_user("Admin", email="admin@example.com", is_admin=True, api_key=admin_key)
        elif admin_key and admin["api_key"] != admin_key:
            admin["api_key"] = admin_key
            self.store.put("users", admin)
