"""Result bodies: streaming them in chunks, and telling a job from a result without parsing.

``POST …/results`` answers either ``{"job": …}`` (poll it) or ``{"query_result": …}`` (the
rows, possibly hundreds of megabytes). :func:`execution_response` and
:func:`streamed_execution_response` sniff the first key instead of parsing a big result twice;
:class:`ResultBody` hands a still-arriving body to :func:`watch_pandas._decode.read_result` in
chunks. Package-internal: names without an underscore are used by ``_client/``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import requests

from ._http import wire_model
from .errors import ServerError, WatchError
from .models import Job

# A cached result body is never parsed just to tell it from a job: peek at the first key.
_FIRST_KEY = re.compile(rb'\s*\{\s*"([A-Za-z_]+)"')
_SMALL_BODY = 64 * 1024
# Chunks of a streamed result body: big enough that reading costs little per byte, small
# enough that decoding overlaps the transfer (see _decode.read_result).
STREAM_CHUNK = 1 << 20


@dataclass(frozen=True)
class ExecutionResponse:
    """What ``POST …/results`` answered: a ``job`` to poll, or the raw result ``body`` bytes."""

    job: Job | None
    body: bytes | ResultBody | None


class ResultBody:
    """A result body that is still arriving: iterate once for its byte chunks, or ``read()``.

    Returned by ``post_query_results(..., stream=True)`` and :meth:`WatchClient.open_result`;
    hand it to :func:`watch_pandas._decode.read_result`, which decodes rows while the rest
    arrives. The connection is released when the chunks are exhausted or on :meth:`close`.
    A connection that breaks mid-body raises :class:`~watch_pandas.errors.TransportError`.
    """

    def __init__(
        self,
        first: bytes,
        chunks: Iterator[bytes],
        response: requests.Response,
        on_error: Callable[[requests.RequestException], WatchError],
    ) -> None:
        self._first: bytes | None = first
        self._chunks = chunks
        self._response = response
        self._on_error = on_error

    def __iter__(self) -> Iterator[bytes]:
        if self._first is None:
            raise RuntimeError("this result body was already read")
        first, self._first = self._first, None
        try:
            if first:
                yield first
            while True:
                try:
                    chunk = next(self._chunks, None)
                except requests.RequestException as exc:
                    raise self._on_error(exc) from None
                if chunk is None:
                    return
                yield chunk
        finally:
            self.close()

    def read(self) -> bytes:
        """The whole remaining body as bytes (what ``stream=False`` would have given)."""
        return b"".join(self)

    def close(self) -> None:
        self._response.close()

    def __enter__(self) -> ResultBody:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def content_length(self) -> int | None:
        """The body's size in bytes as it arrives, when the server said it (``Content-Length``
        of a body sent without ``Content-Encoding``); else ``None``."""
        headers = self._response.headers
        if headers.get("Content-Encoding", "identity") != "identity":
            return None  # the length of the compressed body, not of the chunks we count
        try:
            length = int(headers.get("Content-Length", ""))
        except ValueError:
            return None
        return length if length >= 0 else None

    def __repr__(self) -> str:
        length = self._response.headers.get("Content-Length", "?")
        return f"<ResultBody {length} bytes>"


def result_body(
    response: requests.Response, on_error: Callable[[requests.RequestException], WatchError]
) -> ResultBody:
    """Start reading a streamed response: the first chunk now (it tells a job from a result)."""
    chunks = response.iter_content(chunk_size=STREAM_CHUNK)
    try:
        first = next(chunks, b"")
        while len(first) < 256:  # enough to see the first key, however the server chunks
            more = next(chunks, None)
            if more is None:
                break
            first += more
    except requests.RequestException as exc:
        response.close()
        raise on_error(exc) from None
    return ResultBody(first, chunks, response, on_error)


def streamed_execution_response(
    response: requests.Response, on_error: Callable[[requests.RequestException], WatchError]
) -> ExecutionResponse:
    """``execution_response`` for a streamed POST: a result stays a stream, a job is parsed."""
    body = result_body(response, on_error)
    first = _FIRST_KEY.match(body._first or b"")
    if first is not None and first.group(1) == b"query_result":
        return ExecutionResponse(job=None, body=body)
    # A job (or something odd): small, parse it as usual.
    return _execution_from_bytes(body.read(), response.status_code)


def execution_response(response: requests.Response) -> ExecutionResponse:
    """Tell ``{"job": …}`` from ``{"query_result": …}`` without parsing a big result twice."""
    return _execution_from_bytes(response.content, response.status_code)


def _execution_from_bytes(body: bytes, status_code: int) -> ExecutionResponse:
    first = _FIRST_KEY.match(body[:256])
    if first is not None and first.group(1) == b"query_result":
        return ExecutionResponse(job=None, body=body)
    if len(body) > _SMALL_BODY and (first is None or first.group(1) != b"job"):
        return ExecutionResponse(job=None, body=body)
    try:
        data = json.loads(body)
    except ValueError:
        raise ServerError(
            "The execution request did not answer JSON.", status_code=status_code
        ) from None
    if isinstance(data, dict) and isinstance(data.get("job"), dict):
        return ExecutionResponse(job=wire_model(Job.from_json, data["job"], "a job"), body=None)
    if isinstance(data, dict) and "query_result" in data:
        return ExecutionResponse(job=None, body=body)
    raise ServerError(
        "The execution request answered neither a job nor a query_result.",
        status_code=status_code,
    )
