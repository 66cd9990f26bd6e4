"""Reading a parsed link through the read pipeline, with the right server and key."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .. import _cache as _cache
from .. import _output as _output
from .. import _params as _params
from .. import _read as _read
from .._config import normalize_url, resolve_config
from .._deadline import deadline
from .._progress import Progress, progress_listeners
from ..errors import AuthError, ConfigError, ForbiddenError, NotFoundError

if TYPE_CHECKING:  # pragma: no cover
    from .._client import WatchClient
    from .._dashboards import DashboardFrames
    from .._decode import DtypeBackend
    from .._output import Output, ReadOutput

from ._parse import WatchLink, parse_link
from ._values import dashboard_values, link_values


# -- reading -----------------------------------------------------------------------------------
def read_watch_url(
    link: str,
    params: Mapping[str, Any] | None = None,
    *,
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
    """Read a pasted Watch link: a shared result link, a query's results link, or a query or
    dashboard page copied from the browser (with its parameters), into a typed DataFrame
    (a dashboard: a dict of frames, as :func:`read_watch_dashboard`).

    The links understood are listed in ``watch_pandas._links.FORMS``. A key in the link
    (``?api_key=``) is sent only in the ``Authorization`` header and only to the link's own
    server; a configured key only to its configured server (docs/links.md). Downloads
    (``.csv``...) are read through the typed JSON of the same result. ``params`` override the
    link's ``p_`` values; the other options (``output=`` too) are those of
    :func:`read_watch_query`.
    """
    return read_link(
        link,
        params,
        max_age=max_age,
        url=url,
        api_key=api_key,
        profile=profile,
        timeout=timeout,
        dtype_backend=dtype_backend,
        progress=progress,
        client=client,
        cache=cache,
        offline=offline,
        cache_dir=cache_dir,
        output=output,
    )


def read_link(
    link: str,
    params: Mapping[str, Any] | None,
    *,
    max_age: int | None,
    url: str | None,
    api_key: str | None,
    profile: str | None,
    timeout: float | None,
    dtype_backend: DtypeBackend,
    progress: Progress,
    client: WatchClient | None,
    cache: bool,
    offline: bool | None,
    cache_dir: str | os.PathLike[str] | None,
    home: str | None = None,
    output: Output = "pandas",
) -> ReadOutput:
    """:func:`read_watch_url`; ``home`` is where a configured key belongs when the caller
    knows better than the environment (the magics' ``WatchMagic.url``)."""
    parsed = parse_link(link)
    given = _params.as_params(params)
    output = _output.check_output(output)
    max_age, timeout = _read.check_read_options(
        max_age=max_age, timeout=timeout, dtype_backend=dtype_backend
    )
    if parsed.kind == "dashboard":
        return _read_dashboard(
            parsed, given, url, api_key, profile, client, home, max_age=max_age,
            timeout=timeout, dtype_backend=dtype_backend, progress=progress, cache=cache,
            offline=offline, cache_dir=cache_dir, output=output,
        )  # fmt: skip
    results = _cache.open_cache(cache, offline, cache_dir)
    if _cache.is_offline(offline):
        assert results is not None  # open_cache refuses offline without a cache
        return _read_offline(
            parsed, given, url, client, results, max_age, dtype_backend, progress, output
        )
    server, key, from_link = _key_for(parsed, url, api_key, profile, client, home)
    listeners = progress_listeners(progress)
    with _explained(parsed, from_link), _read.client_for(client, server, key, None) as watch:
        with deadline(timeout):
            if parsed.kind in ("latest", "query"):
                assert parsed.query_id is not None  # a query link has its id
                saved = watch.get_query(parsed.query_id)
                values = link_values(_params.parse_definitions(saved.parameters), parsed.params)
                return _read.read_saved_query(
                    watch,
                    saved,
                    {**values, **given},
                    max_age=max_age,
                    timeout=timeout,
                    dtype_backend=dtype_backend,
                    listeners=listeners,
                    results=results,
                    output=output,
                )
            query = watch.get_query(parsed.query_id) if parsed.query_id is not None else None
            assert parsed.result_id is not None  # a result link has its id
            return _read.read_stored_result(
                watch,
                parsed.result_id,
                query=query,
                timeout=timeout,
                dtype_backend=dtype_backend,
                listeners=listeners,
                results=results,
                output=output,
            )


def _read_offline(
    link: WatchLink,
    given: dict[str, Any],
    url: str | None,
    client: WatchClient | None,
    results: _cache.ResultCache,
    max_age: int | None,
    dtype_backend: DtypeBackend,
    progress: Progress,
    output: Output,
) -> ReadOutput:
    """A query link served from the local cache; a stored result or dashboard needs the server."""
    if link.kind not in ("latest", "query") or link.query_id is None:
        raise _cache.needs_network(
            "Reading a stored result's link",
            "Read its query's link (/queries/<id>), which the local cache can serve.",
        )
    server = client.url if client is not None else _server(link, url)
    query = _read.offline_saved_query(results, server, link.query_id)
    values = link_values(_params.parse_definitions(query.parameters), link.params)
    return _read.read_query_offline(
        results,
        server,
        link.query_id,
        {**values, **given},
        max_age=max_age,
        dtype_backend=dtype_backend,
        progress=progress,
        output=output,
    )


def _read_dashboard(
    link: WatchLink,
    given: dict[str, Any],
    url: str | None,
    api_key: str | None,
    profile: str | None,
    client: WatchClient | None,
    home: str | None,
    **options: Any,
) -> DashboardFrames:
    from .._dashboards import read_watch_dashboard

    if _cache.is_offline(options["offline"]):
        raise _cache.needs_network(
            "Reading a dashboard's link (the dashboard's layout)",
            "Read its queries' links, which the local cache can serve.",
        )
    options.pop("offline")
    server, key, from_link = _key_for(link, url, api_key, profile, client, home)
    assert link.dashboard is not None  # a dashboard link names one
    with _explained(link, from_link), _read.client_for(client, server, key, None) as watch:
        with deadline(options["timeout"]):
            board = watch.get_dashboard(link.dashboard)
        values, per_widget = dashboard_values(board, link)
        return read_watch_dashboard(
            link.dashboard,
            {**values, **given},
            widget_params=per_widget,
            url=None if client is not None else server,
            api_key=key,
            client=client,
            **options,
        )


# -- the server and the key ----------------------------------------------------------------------
def _server(link: WatchLink, url: str | None) -> str:
    return normalize_url(url, source="the url= argument") if url is not None else link.server


def _key_for(
    link: WatchLink,
    url: str | None,
    api_key: str | None,
    profile: str | None,
    client: WatchClient | None,
    home: str | None,
) -> tuple[str, str | None, bool]:
    """The server, the key to send it (``None``: the client's own) and whether the key is the
    link's. Refuses to send a key to a server it does not belong to (module docstring)."""
    server = _server(link, url)
    if client is not None:
        if client.url != server:
            raise ConfigError(
                f"The link is for {server}, but client= talks to {client.url}: its key is "
                "not sent to another server. Pass a client of that server, or no client and "
                "api_key= for it."
            )
        return server, None, False
    if api_key is not None:
        return server, api_key, False
    if link.api_key is not None:
        if server != link.server:
            raise ConfigError(
                f"The link's key belongs to {link.server}, but url= points at {server}: the "
                "key is not sent there. Pass api_key= for that server, or leave url= out."
            )
        return server, link.api_key, True
    try:
        configured = resolve_config(home, None, profile)
    except ConfigError as exc:
        raise ConfigError(
            f"The link for {server} carries no api_key, and no key is configured for it "
            f"({exc.message.splitlines()[0]}). Pass api_key= (a key of {server}), or "
            f"configure {server} as the server (WATCH_URL and WATCH_API_KEY, or a profile)."
        ) from None
    if configured.url != server:
        raise ConfigError(
            f"The link is for {server}, but the configured key belongs to {configured.url}: "
            f"it is not sent to another server. Pass api_key= (a key of {server}), or use a "
            f"link with its ?api_key=."
        )
    return server, configured.api_key, False


class _explained:
    """Re-word an :class:`AuthError` from reading ``link`` (never with the key): a result
    link refused to a query key, or a key in the link the server did not accept; and the
    "no cached result" answer to a query's result link whose result belongs to another query."""

    def __init__(self, link: WatchLink, from_link: bool) -> None:
        self.link = link
        self.from_link = from_link

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        if isinstance(exc, NotFoundError) and self.link.kind == "query_result":
            qid, rid = self.link.query_id, self.link.result_id
            raise NotFoundError(
                f"{self.link.display}: the server has no result {rid} of query {qid} for this "
                f"key. A query API key reads only results of its own query, so result {rid} "
                "is another query's (or no longer kept): the link's query id and result id do "
                f"not belong together. The query's latest result is at "
                f"/api/queries/{qid}/results.json."
            ) from None
        if not isinstance(exc, AuthError) or isinstance(exc, ForbiddenError):
            return None
        where = "the key in this link" if self.from_link else "the key"
        if self.link.kind == "result":
            message = (
                f"{self.link.display} cannot be read with {where}: the server answers "
                "'Please login' on /api/query_results/<id> both to a wrong key and to a "
                "query API key, which it accepts only on routes that name its query. With a "
                "query key, use the query's results link "
                "(/api/queries/<query id>/results.json?api_key=..., or "
                f"/api/queries/<query id>/results/{self.link.result_id}.json?api_key=...); "
                "otherwise pass a user API key (api_key=)."
            )
        elif self.from_link:
            message = (
                f"The server {self.link.server} did not accept the key in this link "
                f"({self.link.display}): it is not a key of this server, or it is another "
                "query's API key (a query key reads only its own query). Ask for a fresh link, "
                "or pass api_key=."
            )
        else:
            return None
        raise AuthError(
            message, status_code=exc.status_code, url=exc.url, query_id=exc.query_id
        ) from None
