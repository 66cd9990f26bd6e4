"""Running SQL: the parameter rules, the cache rule (``max_age``), jobs, injected failures."""

from __future__ import annotations

import re
from typing import Any

from .. import _params
from .._jobs import Job
from .._store import StoredResult
from .errors import Refusal
from .results import Results
from .users import Caller, require_user

UNSAFE_SHARED = (
    "This query contains potentially unsafe parameters and cannot be executed on a shared "
    "dashboard or an embedded visualization."
)
UNSAFE_VIEW_ONLY = (
    "This query contains potentially unsafe parameters and cannot be executed with read-only "
    "access to this data source."
)


class Execution(Results):
    """Runs: who may run what, cached or new, and failures tests ask for."""

    _fail_rules: list[tuple[int | str, str]]

    def fail_query(self, match: int | str, error: str) -> None:
        with self._lock:
            self._fail_rules.append((match, error))

    def clear_failures(self) -> None:
        with self._lock:
            self._fail_rules.clear()

    def _failure_for(self, job: Any) -> str | None:
        with self._lock:
            rules = list(self._fail_rules)
        for match, error in rules:
            if isinstance(match, int) and job.query_id == match:
                return error
            if isinstance(match, str) and match in job.sql:
                return error
        return None

    def check_can_execute(self, caller: Caller, query: dict[str, Any]) -> None:
        """Unsafe parameters (text, ...) run only for users who may edit the data source."""
        if caller.is_api:
            if not query["is_safe"]:
                raise Refusal(403, UNSAFE_SHARED, job=True)
            return
        user = require_user(caller)
        if user.get("view_only") and not query["is_safe"]:
            raise Refusal(403, UNSAFE_VIEW_ONLY, job=True)

    def run(
        self,
        *,
        template: str,
        definitions: list[dict[str, Any]] | None,
        values: dict[str, Any],
        data_source: dict[str, Any] | None,
        query_id: int | None,
        apply_auto_limit: bool,
        max_age: int,
    ) -> StoredResult | Job:
        """``run_query`` of redash/handlers/query_results.py: a cached result young enough,
        else the (new or already running) job for the rendered SQL."""
        if data_source is None:
            raise Refusal(401, "Target data source not available.", job=True)
        if data_source.get("paused"):
            reason = data_source.get("pause_reason")
            suffix = f" ({reason})" if reason else ""
            raise Refusal(
                400, f"{data_source['name']} is paused{suffix}. Please try later.", job=True
            )
        if not isinstance(values, dict):
            values = {}
        if definitions:  # no definitions (ad-hoc, or none saved): any names, no validation
            try:
                _params.validate(definitions, values, self.dropdown_values)
            except _params.InvalidParameters as exc:
                raise Refusal(400, str(exc)) from None
            except _params.DetachedDropdown as exc:
                raise Refusal(400, exc.message) from None
        values = dict(values)
        _params.join_multi_values(definitions or [], values)
        missing = _params.missing(template, values)
        if missing:
            raise Refusal(400, "Missing parameter value for: " + ", ".join(missing), job=True)
        sql = _params.render(template, values)
        if apply_auto_limit and not re.search(r"\blimit\s+\d+\s*;?\s*$", sql, re.IGNORECASE):
            sql = sql.rstrip().rstrip(";") + " LIMIT 1000"
        digest = _params.query_hash(sql)
        result = None
        if max_age != 0:
            result = self.store.latest_result(int(data_source["id"]), digest, max_age)
        if result is not None:
            return result
        job, created = self.jobs.enqueue(sql, data_source, digest, query_id)
        if created:
            self.counters.count_execution()
        return job
