"""Execution: running saved queries and ad-hoc SQL, their jobs, and reading results.

A result is read by id on the route the key may use (a query key only through its query),
whole (:meth:`ExecutionAPI.get_result`) or streamed (:class:`~watch_pandas._body.ResultBody`);
:meth:`ExecutionAPI.with_result` downloads it again when its body breaks off.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

import requests

from .._body import (
    ExecutionResponse,
    ResultBody,
    execution_response,
    result_body,
    streamed_execution_response,
)
from .._http import again_if_body_breaks, expect_dict, wire_model
from ..errors import ConfigError, ForbiddenError, ServerError, WatchError
from ..models import Job
from ._args import as_id, as_job_id, check_format, max_age_value
from ._base import BaseClient

_T = TypeVar("_T")


class ExecutionAPI(BaseClient):
    """``POST …/results`` and ``/api/query_results``, ``/api/jobs``, results by id."""

    # -- execution and jobs ----------------------------------------------------------------
    def post_query_results(
        self,
        query_id: int | str,
        parameters: Mapping[str, Any] | None = None,
        *,
        max_age: int | None = -1,
        apply_auto_limit: bool | None = None,
        stream: bool = False,
    ) -> ExecutionResponse:
        """Run (or fetch from cache) a saved query: ``POST /api/queries/<id>/results``.

        ``max_age`` is always sent: seconds a cached result may be old, ``0`` = always run,
        ``-1`` (or ``None``) = any cached result. Not retried once the request went out.
        ``stream=True`` makes an inline result's ``body`` a :class:`ResultBody` (chunks still
        arriving) instead of bytes; a job is read and parsed as usual.
        """
        qid = as_id(query_id, "query_id")
        body: dict[str, Any] = {"max_age": max_age_value(max_age)}
        if parameters is not None:
            body["parameters"] = dict(parameters)
        if apply_auto_limit is not None:
            body["apply_auto_limit"] = bool(apply_auto_limit)
        response = self._request(
            "POST",
            f"queries/{qid}/results",
            body=body,
            what=f"query {qid}",
            query_id=qid,
            sent_parameters=body.get("parameters"),
            stream=stream,
        )
        if stream:
            path = f"queries/{qid}/results"
            return streamed_execution_response(
                response,
                lambda exc: self._transport_error(exc, "POST", path, {"query_id": qid}),
            )
        return execution_response(response)

    def execute_sql(
        self,
        sql: str,
        data_source_id: int | str,
        parameters: Mapping[str, Any] | None = None,
        *,
        max_age: int = 0,
        query_id: int | str | None = None,
        apply_auto_limit: bool | None = None,
        stream: bool = False,
    ) -> ExecutionResponse:
        """Run ad-hoc SQL on a data source: ``POST /api/query_results`` (user key only).

        ``stream=True`` as in :meth:`post_query_results`.
        """
        self._require_user_key("run ad-hoc SQL")
        if not isinstance(sql, str) or not sql.strip():
            raise ConfigError("sql must be a non-empty SQL string.")
        body: dict[str, Any] = {
            "query": sql,
            "data_source_id": as_id(data_source_id, "data_source_id"),
            "max_age": max_age_value(max_age),
            "parameters": dict(parameters or {}),
        }
        if query_id is not None:
            body["query_id"] = as_id(query_id, "query_id")
        if apply_auto_limit is not None:
            body["apply_auto_limit"] = bool(apply_auto_limit)
        response = self._request(
            "POST",
            "query_results",
            body=body,
            what=f"data source {body['data_source_id']}",
            user_only=True,
            sent_parameters=body["parameters"],
            stream=stream,
        )
        if stream:
            return streamed_execution_response(
                response,
                lambda exc: self._transport_error(exc, "POST", "query_results", {}),
            )
        return execution_response(response)

    def get_job(self, job_id: str, *, query_id: int | str | None = None) -> Job:
        """The state of an execution job.

        A user key reads ``/api/jobs/<id>``; a query key can only use
        ``/api/queries/<query_id>/jobs/<id>`` (``query_id`` defaults to the key's query).
        """
        jid = as_job_id(job_id)
        qid = None if query_id is None else as_id(query_id, "query_id")
        kind = self.key_kind
        if kind == "query" or (kind == "auto" and qid is not None):
            qid = qid if qid is not None else self._kind.query_id
            if qid is None:
                raise ConfigError(
                    f"A query API key can only read job {jid} through its query's route; "
                    "pass query_id= (the query that started the job), or use a user API key."
                )
            path = f"queries/{qid}/jobs/{quote(jid, safe='')}"
            data = self._json("GET", path, what=f"job {jid}", query_id=qid, job_id=jid)
        else:
            path = f"jobs/{quote(jid, safe='')}"
            data = self._json("GET", path, what=f"job {jid}", job_id=jid, user_only=True)
        job = expect_dict(data, "a job").get("job")
        if not isinstance(job, dict):
            raise ServerError(f"GET /api/{path} did not answer a job object.", job_id=jid)
        return wire_model(Job.from_json, job, "a job")

    def cancel_job(self, job_id: str) -> None:
        """Cancel a job (``DELETE /api/jobs/<id>``); needs a user API key.

        Note that a job is shared by everyone who ran the same SQL at the same time.
        """
        jid = as_job_id(job_id)
        if self.key_kind == "query":
            raise ForbiddenError(
                f"Cannot cancel job {jid}: cancelling needs a user API key, and this client "
                "uses a query API key (the server offers no cancel route for query keys).",
                job_id=jid,
            )
        self._json(
            "DELETE", f"jobs/{quote(jid, safe='')}", what=f"job {jid}", job_id=jid, user_only=True
        )

    # -- results ---------------------------------------------------------------------------
    def get_cached_result(self, query_id: int | str, fmt: str = "json") -> bytes:
        """The query's latest cached result (``GET /api/queries/<id>/results.<fmt>``) as bytes."""
        qid = as_id(query_id, "query_id")
        path = f"queries/{qid}/results.{check_format(fmt)}"
        response = self._request("GET", path, what=f"cached result of query {qid}", query_id=qid)
        return response.content

    def get_result(
        self, result_id: int | str, fmt: str = "json", *, query_id: int | str | None = None
    ) -> bytes:
        """A query result by id as bytes (``json``, ``csv``, ``tsv`` or ``xlsx``).

        Without ``query_id``: ``/api/query_results/<rid>.<fmt>`` (user key); with it:
        ``/api/queries/<qid>/results/<rid>.<fmt>`` (either key; for a query key only results
        whose SQL hash matches the saved query, i.e. default parameter values).
        """
        return self.stream_result(result_id, fmt, query_id=query_id, stream=False).content

    def stream_result(
        self,
        result_id: int | str,
        fmt: str = "json",
        *,
        query_id: int | str | None = None,
        stream: bool = True,
    ) -> requests.Response:
        """Like :meth:`get_result` but returns the open ``Response`` (close it when done)."""
        rid = as_id(result_id, "result_id")
        fmt = check_format(fmt)
        qid = None if query_id is None else as_id(query_id, "query_id")
        if qid is None and self.key_kind == "query":
            qid = self._kind.query_id
            if qid is None:
                raise ForbiddenError(
                    f"Result {rid} can be read by id only with a user API key; with a query "
                    "API key pass query_id= (or re-POST the same parameters)."
                )
        if qid is None:
            return self._request(
                "GET",
                f"query_results/{rid}.{fmt}",
                what=f"result {rid}",
                user_only=True,
                stream=stream,
            )
        return self._request(
            "GET",
            f"queries/{qid}/results/{rid}.{fmt}",
            what=f"result {rid} of query {qid}",
            query_id=qid,
            stream=stream,
        )

    def open_result(self, result_id: int | str, *, query_id: int | str | None = None) -> ResultBody:
        """A JSON result by id as a :class:`ResultBody`, for the decoder (`_decode.read_result`).

        Routes as :meth:`get_result`; the body is read in chunks as it arrives.
        """
        return self._open_result(result_id, query_id, self._transport_error)

    def _open_result(
        self,
        result_id: int | str,
        query_id: int | str | None,
        error: Callable[[requests.RequestException, str, str, dict[str, Any]], WatchError],
    ) -> ResultBody:
        """:meth:`open_result`, with ``error`` making the error for a body that breaks off."""
        response = self.stream_result(result_id, "json", query_id=query_id)
        path = urlsplit(response.url).path.removeprefix("/api/")
        context = {"query_id": query_id, "job_id": None}
        return result_body(response, lambda exc: error(exc, "GET", path, context))

    def with_result(
        self,
        result_id: int | str,
        use: Callable[[ResultBody], _T],
        *,
        query_id: int | str | None = None,
    ) -> _T:
        """``use(body)`` on a JSON result by id (:meth:`open_result`), e.g. decoding it.

        When the body breaks off while ``use`` reads it, the result is downloaded again and
        ``use`` starts over: a stored result never changes and nothing runs again on the server.
        Retried like any safe request (``retries``, backoff, within the deadline).
        """

        def attempt() -> _T:
            with self._open_result(result_id, query_id, self._body_error) as body:
                return use(body)

        return again_if_body_breaks(attempt, "GET", self._retry_policy())
