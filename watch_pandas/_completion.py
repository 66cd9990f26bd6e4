"""Tab completion for ``%%watch`` and ``%watch`` through IPython's completer (a v2 context
matcher, so it works wherever IPython completes: JupyterLab, Notebook, the terminal).

In a ``%%watch`` cell: table names, and the columns of the tables the cell mentions (also
``table.col`` and ``alias.col``), from the schema of the cell's data source; after
``--data-source``/``-d``: data source names; after ``%watch``: saved query ids (by id or by
name). What the server answers is fetched once per session and kept; ``%watch_schema NAME
--refresh`` reads a schema again. UI module: the core never imports it.
"""

from __future__ import annotations

import logging
import re
import shlex
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from IPython.core.completer import (
    CompletionContext,
    SimpleCompletion,
    context_matcher,
)

if TYPE_CHECKING:
    from ._client import WatchClient
    from .models import SchemaTable

log = logging.getLogger("watch_pandas")

# IPython's SimpleMatcherResult (a TypedDict whose optional keys mypy reads as required)
_Result = dict[str, Any]

# seconds a completion may wait for the server (Tab must not hang the kernel for long)
COMPLETION_TIMEOUT = 15.0
_SOURCE_OPTION = re.compile(r"(?:--data-source|-d)(?:=|\s+)$")
_FROM = re.compile(r"\b(?:from|join)\s+([\w.\"]+)(?:\s+(?:as\s+)?(\w+))?", re.IGNORECASE)
_SQL_KEYWORDS = {"on", "where", "join", "left", "right", "inner", "outer", "group", "order"}


class WatchCompleter:
    """Completion state of one IPython session: caches of schemas, sources and queries."""

    def __init__(
        self,
        client: Callable[[], AbstractContextManager[WatchClient]],
        default_source: Callable[[], Any],
    ) -> None:
        self._client = client
        self._default_source = default_source
        self._schemas: dict[str, list[SchemaTable]] = {}
        self._sources: list[str] | None = None
        self._queries: list[tuple[int, str]] | None = None

    # -- data, fetched once ------------------------------------------------------------------
    def schema(self, data_source: int | str, refresh: bool = False) -> list[SchemaTable]:
        key = str(data_source)
        if refresh or key not in self._schemas:
            with self._client() as client:
                self._schemas[key] = client.get_schema(
                    data_source, refresh=refresh, timeout=COMPLETION_TIMEOUT
                )
        return self._schemas[key]

    def remember(self, data_source: int | str, tables: list[SchemaTable]) -> None:
        self._schemas[str(data_source)] = tables

    def _source_names(self) -> list[str]:
        if self._sources is None:
            with self._client() as client:
                self._sources = [s.name for s in client.list_data_sources()]
        return self._sources

    def _query_list(self) -> list[tuple[int, str]]:
        if self._queries is None:
            with self._client() as client:
                self._queries = [(q.id, q.name) for q in client.list_queries(limit=1000)]
        return self._queries

    # -- the matcher ---------------------------------------------------------------------------
    @context_matcher()
    def matcher(self, context: CompletionContext) -> _Result:
        lines = context.full_text.split("\n")
        line = lines[context.cursor_line] if context.cursor_line < len(lines) else ""
        before_line = line[: context.cursor_position]
        try:
            if lines[0].lstrip().startswith("%%watch") and not lines[0].lstrip().startswith(
                "%%watch_"
            ):
                if context.cursor_line == 0:
                    return self._magic_line(before_line)
                return self._sql(lines, before_line)
            if context.cursor_line == 0 or len(lines) == 1:
                match = re.match(r"\s*%watch\s+(\S*)$", before_line)
                if match:
                    return self._query_ids(match.group(1))
        except Exception as exc:  # noqa: BLE001 - Tab must never raise into the frontend
            log.debug("watch completion failed: %s", exc)
            if context.cursor_line > 0 and lines[0].lstrip().startswith("%%watch"):
                return _nothing(before_line)  # SQL: never IPython's magic or Python names
        return {"completions": []}

    def _magic_line(self, before: str) -> _Result:
        token = re.search(r"[^\s=]*$", before)
        fragment = token.group(0) if token else ""
        if not _SOURCE_OPTION.search(before[: len(before) - len(fragment)]):
            return {"completions": []}
        names = [n for n in self._source_names() if n.startswith(fragment)]
        return _result(names, fragment, "data source")

    def _sql(self, lines: list[str], before: str) -> _Result:
        source = _cell_source(lines[0]) or self._default_source()
        if source is None or source == "":
            log.debug(
                "watch completion: no data source for this cell (--data-source NAME, or "
                "%%config WatchMagic.data_source = 'NAME'), so no tables to offer"
            )
            return _nothing(before)
        try:
            tables = self.schema(source)
        except Exception as exc:  # noqa: BLE001 - an unknown source, no schema, no server...
            log.debug("watch completion: no schema for data source %r: %s", source, exc)
            return _nothing(before)
        match = re.search(r"[\w.]*$", before)
        fragment = match.group(0) if match else ""
        body = "\n".join(lines[1:])
        by_name = {t.name.lower(): t for t in tables}
        aliases = _aliases(body, by_name)
        if "." in fragment:
            owner, _, start = fragment.rpartition(".")
            table = by_name.get(owner.lower()) or aliases.get(owner.lower())
            if table is None:
                return {"completions": [], "suppress": True}
            names = [f"{owner}.{c.name}" for c in table.columns if c.name.startswith(start)]
            return _result(names, fragment, "column")
        mentioned = _mentioned(body, by_name) | {t.name for t in aliases.values()}
        columns = sorted({c.name for t in tables if t.name in mentioned for c in t.columns})
        names = [t.name for t in tables if t.name.lower().startswith(fragment.lower())]
        types = ["table"] * len(names)
        for column in columns:
            if column.lower().startswith(fragment.lower()):
                names.append(column)
                types.append("column")
        completions = [SimpleCompletion(n, type=t) for n, t in zip(names, types, strict=True)]
        if not completions:
            return _nothing(before)
        return {"completions": completions, "matched_fragment": fragment, "suppress": True}

    def _query_ids(self, fragment: str) -> _Result:
        queries = self._query_list()
        if fragment.isdigit() or not fragment:
            found = [(i, n) for i, n in queries if str(i).startswith(fragment)]
        else:
            found = [(i, n) for i, n in queries if fragment.lower() in n.lower()]
        # numeric order (IPython would sort the texts: 1, 10, 11, 2); the name beside each id
        # (the completion's type: the terminal's meta column, JupyterLab's type column)
        completions = [SimpleCompletion(str(i), type=f"query: {n}") for i, n in sorted(found)]
        return {
            "completions": completions,
            "matched_fragment": fragment,
            "suppress": True,
            "ordered": True,
        }


def _nothing(before: str) -> _Result:
    """Offer nothing, and keep IPython's other matchers (magic names, Python names) out of a
    ``%%watch`` cell's SQL. IPython only lets a matcher with a completion suppress the others,
    so the one completion is the word typed so far: accepting it changes nothing."""
    match = re.search(r"[\w.]*$", before)
    fragment = match.group(0) if match else ""
    return {
        "completions": [SimpleCompletion(fragment, type="no completion")],
        "matched_fragment": fragment,
        "suppress": True,
    }


def _result(names: list[str], fragment: str, kind: str) -> _Result:
    return {
        "completions": [SimpleCompletion(n, type=kind) for n in names],
        "matched_fragment": fragment,
        "suppress": True,
    }


def _cell_source(first_line: str) -> str | None:
    """The ``--data-source``/``-d`` value on a ``%%watch`` line, if any."""
    try:
        words = shlex.split(first_line)
    except ValueError:
        words = first_line.split()
    for i, word in enumerate(words):
        if word.startswith("--data-source="):
            return word.split("=", 1)[1]
        if word in ("--data-source", "-d") and i + 1 < len(words):
            return words[i + 1]
    return None


def _mentioned(body: str, by_name: dict[str, SchemaTable]) -> set[str]:
    """Names of the schema's tables that appear as words in the SQL."""
    words = {w.lower() for w in re.findall(r"[A-Za-z_][\w.]*", body)}
    words |= {w.rpartition(".")[2] for w in words}
    return {by_name[w].name for w in words if w in by_name}


def _aliases(body: str, by_name: dict[str, SchemaTable]) -> dict[str, SchemaTable]:
    """``FROM prices p`` / ``JOIN markets AS m``: alias → table."""
    found = {}
    for table, alias in _FROM.findall(body):
        name = table.strip('"').rpartition(".")[2].lower()
        if alias and alias.lower() not in _SQL_KEYWORDS and name in by_name:
            found[alias.lower()] = by_name[name]
    return found
