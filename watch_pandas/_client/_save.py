"""Saving SQL as a query: create it, or update the caller's own query of that name (or a
given id) without silently overwriting someone else's change (docs/guide.md#saving-a-query).

Two checks guard an update. The client compares the query as it is now with how this client
last read or saved it (:func:`~._queries.content`): a difference means someone else saved in
between, and nothing is sent. The edit then carries the query's ``version``, which servers
that count versions answer with a 409 if another save slipped in (docs/protocol.md#queries:
current servers keep it at 1, so the first check is the one that works there).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .._params import infer_definitions
from ..errors import ConfigError, ConflictError
from ..models import Query
from ._args import as_id
from ._meta import MetaAPI
from ._queries import QueriesAPI, content


class SaveAPI(QueriesAPI, MetaAPI):
    """``save_query``: create or update a saved query from SQL and the values it ran with."""

    def save_query(
        self,
        sql: str,
        name: str,
        data_source: int | str,
        *,
        parameters: Mapping[str, object] | None = None,
        tags: Sequence[str] | None = None,
        publish: bool = False,
        description: str | None = None,
        query: int | str | Query | None = None,
    ) -> Query:
        """Save ``sql`` as the query ``name``: update the caller's own query of that name, or
        create one; return the saved :class:`~watch_pandas.models.Query`.

        ``parameters`` are the values of the SQL's ``{{ }}`` placeholders: each becomes a
        parameter definition of the matching type (text, number, date, datetime, a list as a
        multi-value dropdown, a ``(start, end)`` range) with the value as its default; a
        definition the query already has is kept when the value fits it. ``data_source`` is
        an id or a name. ``tags`` and ``description`` replace the query's when given;
        ``publish=True`` makes a draft visible to others (a new query is a draft otherwise).
        The query's visualizations stay as they are.

        By name, only the caller's own queries match (another user's query of that name is
        never touched, a new one is made), and only one this client has read or saved is
        updated: any other is a :class:`~watch_pandas.errors.ConflictError` saying how to
        replace it on purpose, as is having several of that name. ``query=`` (an id, or
        a :class:`Query` read earlier) updates that query explicitly. A query changed by
        someone else since this client read or saved it (or since ``query=``'s read) is a
        ``ConflictError`` and nothing is saved: read it again, then save.
        """
        self._require_user_key("save queries")
        _check_text(sql, "sql", "the query's SQL text")
        _check_text(name, "name", "the query's name, e.g. 'Daily volume'")
        tag_list = _check_tags(tags)
        if not isinstance(publish, bool):
            raise ConfigError(f"publish must be True or False, not {publish!r}.")
        if description is not None and not isinstance(description, str):
            raise ConfigError(f"description must be text or None, not {description!r}.")
        base = (content(query), query.version) if isinstance(query, Query) else None
        target = None
        if isinstance(query, Query):
            target = query.id
        elif query is not None:
            target = as_id(query, "query= (the id to update)")
        definitions = infer_definitions(sql, parameters)  # refuse bad values before any request
        source = self.resolve_data_source(data_source)
        by_name = target is None
        if target is None:
            target = self._own_query_named(name)
        if target is None:
            return self.create_query(
                data_source_id=source.id,
                query=sql,
                name=name,
                description=description,
                parameters=definitions,
                tags=tag_list,
                publish=publish,
            )
        if base is None:
            base = self._last_seen(target)
        if base is None and by_name:
            raise self._not_seen(target, name)
        current = self.get_query(target)
        if base is not None and base[0] != content(current):
            raise _changed_since(current)
        options = dict(current.raw.get("options") or {})
        options["parameters"] = infer_definitions(sql, parameters, existing=current.parameters)
        fields: dict[str, Any] = {
            "name": name,
            "query": sql,
            "data_source_id": source.id,
            "options": options,
        }
        if tag_list is not None:
            fields["tags"] = tag_list
        if description is not None:
            fields["description"] = description
        if publish:
            fields["is_draft"] = False
        version = base[1] if base is not None else current.version
        return self.edit_query(target, version=version, **fields)

    def _not_seen(self, query_id: int, name: str) -> ConflictError:
        """Refusing to update, by name, a query this client never read nor saved: it may be
        someone's work in use (a dashboard's); the refusal is not counted as a read."""
        current = self.get_query(query_id)
        with self._seen_lock:
            self._seen.pop(query_id, None)
        when = current.raw.get("updated_at") or "an unknown time"
        return ConflictError(
            f"You already have a query named {name!r}: query {query_id}, last changed at "
            f"{when} ({self.query_url(query_id)}). Nothing was saved: saving by name updates "
            "only a query this client has read or saved. To replace it on purpose pass "
            f"query={query_id} (%%watch --save-id {query_id}) or read it first "
            f"(get_query({query_id})); otherwise save under another name.",
            query_id=query_id,
        )

    def _own_query_named(self, name: str) -> int | None:
        """The id of the caller's own query called ``name`` (``/api/queries/my``), or None."""
        ids = [
            int(item["id"])
            for item in self._paginate("queries/my", None, None, None, 250, None, "list queries")
            if item.get("name") == name and not item.get("is_archived")
        ]
        if len(ids) > 1:
            listed = ", ".join(map(str, sorted(ids)))
            raise ConflictError(
                f"You have {len(ids)} queries named {name!r} (ids {listed}); nothing was saved. "
                f"Pick one with query=ID (%%watch --save-id ID), or save under another name."
            )
        return ids[0] if ids else None


def _changed_since(current: Query) -> ConflictError:
    modifier = current.raw.get("last_modified_by")
    who = modifier.get("name") if isinstance(modifier, Mapping) else None
    who = who or f"user {current.raw.get('last_modified_by_id', '?')}"
    when = current.raw.get("updated_at") or "an unknown time"
    return ConflictError(
        f"Query {current.id} ({current.name!r}) was changed on the server by someone else since "
        f"this client read or saved it (last modified by {who} at {when}); nothing was saved. "
        f"Read it again (get_query({current.id})) to see the change, then save again.",
        query_id=current.id,
    )


def _check_text(value: object, name: str, meaning: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{name} must be {meaning} (non-empty text), not {value!r}.")


def _check_tags(tags: object) -> list[str] | None:
    if tags is None:
        return None
    if isinstance(tags, str) or not isinstance(tags, Sequence):
        raise ConfigError(f"tags must be a list of strings like ['daily'], not {tags!r}.")
    if not all(isinstance(tag, str) and tag.strip() for tag in tags):
        raise ConfigError(f"tags must be non-empty strings, not {list(tags)!r}.")
    return list(tags)
