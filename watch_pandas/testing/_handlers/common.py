"""What the handlers share: JSON replies, request bodies and ids, listing pages."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.wrappers import Request, Response

from ... import _constants as C
from .._backend import NOT_FOUND, Backend, Refusal


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body), status=status, headers=headers, content_type="application/json"
    )


def body_of(request: Request) -> Any:
    """The request's JSON body, whatever its content type; ``None`` when it is not JSON."""
    return request.get_json(force=True, silent=True)


def to_int(value: Any) -> int:
    return int(value)  # ValueError → 500, as the real server's integer casts


def get_query(backend: Backend, query_id: Any) -> dict[str, Any]:
    query = backend.store.get("queries", to_int(query_id))
    if query is None:
        raise Refusal(404, NOT_FOUND)
    return query


def paginate(
    request: Request, items: list[Any], serialize: Callable[[Any], dict[str, Any]]
) -> Response:
    page = request.args.get("page", 1, type=int)
    page_size = request.args.get("page_size", C.DEFAULT_PAGE_SIZE, type=int)
    count = len(items)
    if page < 1:
        raise Refusal(400, "Page must be positive integer.")
    if (page - 1) * page_size + 1 > count > 0:
        raise Refusal(400, "Page is out of range.")
    if page_size > C.MAX_PAGE_SIZE or page_size < 1:
        raise Refusal(400, "Page size is out of range (1-250).")
    chunk = items[(page - 1) * page_size : page * page_size]
    return json_response(
        {
            "count": count,
            "page": page,
            "page_size": page_size,
            "results": [serialize(item) for item in chunk],
        }
    )


def filter_and_order(
    request: Request,
    items: list[dict[str, Any]],
    text_fields: tuple[str, ...],
    sort_keys: dict[str, Callable[[dict[str, Any]], Any]],
) -> list[dict[str, Any]]:
    tags = request.args.getlist("tags")
    if tags:
        items = [i for i in items if set(tags) <= set(i.get("tags") or [])]
    search = request.args.get("q", "").strip().lower()
    if search:
        items = [
            i for i in items if any(search in str(i.get(f) or "").lower() for f in text_fields)
        ]
    order = request.args.get("order")
    if not order and search:
        return sorted(items, key=lambda i: (search not in i["name"].lower(), -i["id"]))
    order = order or "-created_at"
    descending = order.startswith("-")
    key = sort_keys.get(order.lstrip("-"), sort_keys["created_at"])
    return sorted(items, key=lambda i: (key(i), i["id"]), reverse=descending)


def tag_counts(items: Iterable[dict[str, Any]]) -> Counter[str]:
    """How many of the ``items`` that are not archived carry each tag."""
    return Counter(
        tag for item in items if not item["is_archived"] for tag in item.get("tags") or []
    )
