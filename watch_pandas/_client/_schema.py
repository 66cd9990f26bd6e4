"""Schemas: the tables and columns of a data source (docs/protocol.md#schema)."""

from __future__ import annotations

from typing import Any

from .._execution import Execution
from .._http import expect_dict, wire_model
from ..errors import QueryFailedError, ServerError
from ..models import Job, SchemaTable
from ._execution import ExecutionAPI
from ._meta import MetaAPI


class SchemaAPI(ExecutionAPI, MetaAPI):
    """``GET /api/data_sources/<id>/schema``: inline when cached, else a job to poll."""

    def get_schema(
        self,
        data_source: int | str,
        refresh: bool = False,
        *,
        timeout: float | None = None,
    ) -> list[SchemaTable]:
        """The tables of a data source (id or name) with their columns, and the columns'
        database types where the server reports them.

        The server's cached schema is answered at once; ``refresh=True`` (or no cache yet)
        makes the server read it again in a job, polled here like any execution (within
        ``timeout`` seconds or the thread's deadline; abandoned jobs are cancelled). A data
        source that cannot list its schema raises :class:`~watch_pandas.errors.QueryFailedError`
        with the server's message.
        """
        self._require_user_key("read a data source's schema")
        source = self.resolve_data_source(data_source)
        path = f"data_sources/{source.id}/schema"
        # the server reads only whether "refresh" is present, not its value
        params = {"refresh": "true"} if refresh else None
        what = f"schema of data source {source.name!r} (id {source.id})"
        data = expect_dict(
            self._json("GET", path, params=params, what=what, user_only=True), "a schema answer"
        )
        tables: Any = data.get("schema")
        if tables is None:
            raw_job = data.get("job")
            if not isinstance(raw_job, dict):
                raise ServerError(f"GET /api/{path} answered neither a schema nor a job.")
            job = wire_model(Job.from_json, raw_job, "a job")
            execution = Execution(self, timeout=timeout, value_result=True)
            try:
                tables = execution.wait(job).value
            except QueryFailedError as exc:
                reason = exc.server_message or "the server gave no reason"
                raise QueryFailedError(
                    f"Could not read the {what}: {reason}",
                    server_message=exc.server_message,
                    job_id=exc.job_id,
                ) from None
        if not isinstance(tables, list):
            raise ServerError(f"The {what} is not a list of tables.")
        return [wire_model(SchemaTable.from_json, t, "a schema table") for t in tables]
