"""IPython magics: ``%%watch`` runs the cell's SQL, ``%watch`` reads a saved query.

Load with ``%load_ext watch_pandas``. Defaults are traitlets of :class:`WatchMagic`, so
``%config WatchMagic.data_source = "mainnet"`` sets one and ``%config WatchMagic`` lists them.
The magic is a sequence of small steps (parse the line → resolve values → run → hand over the
frame) and holds no protocol logic: it calls :func:`watch_pandas.run_sql` and
:func:`watch_pandas.read_watch_query` (or :func:`watch_pandas.read_watch_url` for a link)
like any script.

A failing magic fails its cell, so "Run All" and papermill stop there instead of going on with
a missing or stale variable; either way IPython shows one line, no traceback. User mistakes
(unknown option, bad parameter, missing configuration, unknown data source or query) raise
:class:`~IPython.core.error.UsageError`. A read that fails on the server (the query failed, was
cancelled, timed out, or the server broke) raises :class:`WatchMagicError`: the server's message,
the query's link, and whether the variable was left unassigned. The API key never comes near
the line, the options or a message: it is read from the environment or the config file by the
client.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from contextlib import contextmanager
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, line_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import MagicArgumentParser
from traitlets import Bool, CaselessStrEnum, Float, Int, TraitError, Unicode, Union, validate

from . import _wording
from ._config import link_instead_of_id
from ._output import OUTPUTS
from ._params import collect_pairs
from ._read import check_max_age, parse_max_age
from .errors import (
    AuthError,
    ConfigError,
    NotFoundError,
    ParameterError,
    QueryCancelledError,
    QueryFailedError,
    WatchError,
    WatchTimeoutError,
    one_line,
)

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from IPython.core.interactiveshell import InteractiveShell

    from ._client import WatchClient
    from ._completion import WatchCompleter
    from .models import Query

__all__ = [
    "WatchMagic",
    "WatchMagicError",
    "load_ipython_extension",
    "unload_ipython_extension",
]

# Errors that mean "the user asked for something wrong": one UsageError line, no traceback.
_USER_MISTAKES = (ConfigError, AuthError, NotFoundError, ParameterError)
# Errors of the run itself: one WatchMagicError line with the server's word and the link.
_RUN_FAILURES = (QueryFailedError, QueryCancelledError, WatchTimeoutError, WatchError)


class WatchMagicError(WatchError):
    """A ``%watch``/``%%watch`` read failed on the server; the cell fails with one line.

    IPython (terminal and kernel) shows what ``_render_traceback_`` returns instead of a
    traceback, so the user sees the server's message, not the library's frames. The original
    error is ``__cause__``.
    """

    def _render_traceback_(self) -> list[str]:
        return [f"watch: {self}"]


def _max_age(text: str) -> int:
    """``--max-age`` for the parsers: whole seconds >= 0 (leaving it out means any age)."""
    try:
        return parse_max_age(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _cell_parser() -> MagicArgumentParser:
    parser = MagicArgumentParser(
        prog="%%watch",
        description="Run the cell's SQL on a data source; {{ name }} placeholders are filled "
        "by the server from --param/--params (never by string formatting).",
    )
    parser.add_argument("var", nargs="?", help="assign the frame to this variable")
    parser.add_argument("--data-source", "-d", help="data source id or name")
    parser.add_argument("--max-age", type=_max_age, help="accept a cached result this many s old")
    parser.add_argument(
        "--param",
        "-p",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a parameter; VALUE may be $variable (its Python value); repeat a name for a list",
    )
    parser.add_argument("--params", metavar="EXPR", help="a dict expression, e.g. $my_params")
    _add_output(parser)
    parser.add_argument(
        "--save",
        metavar="NAME",
        help="after a successful run, save the cell as your query NAME (created, or updated "
        "if you have one of that name); parameters are inferred from the values given",
    )
    parser.add_argument(
        "--save-id", type=_query_id, metavar="ID", help="with --save: update query ID instead"
    )
    parser.add_argument("--publish", action="store_true", help="with --save: publish the query")
    parser.add_argument(
        "--tag", action="append", metavar="TAG", help="with --save: a tag (repeat for more)"
    )
    return parser


def _query_id(text: str) -> int:
    """``--save-id`` for the parser: a positive query id."""
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a query id like 42, not {text!r}")
    return int(text)


def _add_output(parser: MagicArgumentParser) -> None:
    parser.add_argument(
        "--output",
        "-o",
        choices=OUTPUTS,
        default="pandas",
        help="what to return: a pandas DataFrame, a pyarrow Table or a polars DataFrame",
    )


def _line_parser() -> MagicArgumentParser:
    parser = MagicArgumentParser(
        prog="%watch", description="Read a saved query's result into a DataFrame."
    )
    parser.add_argument(
        "words",
        nargs="*",
        metavar="QUERY_ID|LINK [VAR] [NAME=VALUE ...]",
        help="the query id or a link, an optional variable, parameters (VALUE may be $variable)",
    )
    parser.add_argument("--max-age", type=_max_age, help="accept a cached result this many s old")
    parser.add_argument("--params", metavar="EXPR", help="a dict expression, e.g. $my_params")
    parser.add_argument("--interactive", "-i", action="store_true", help="show the picker")
    _add_output(parser)
    return parser


_CELL_PARSER = _cell_parser()
_LINE_PARSER = _line_parser()
_CELL, _LINE = _CELL_PARSER.prog, _LINE_PARSER.prog  # messages name the magic in use


@magics_class
class WatchMagic(Magics):
    """``%%watch`` (ad-hoc SQL) and ``%watch`` (saved queries), configured by traitlets."""

    profile = Unicode(
        None, allow_none=True, help="Config-file profile to use (None: WATCH_PROFILE/default)."
    ).tag(config=True)
    url = Unicode(
        None, allow_none=True, help="Server URL (None: WATCH_URL or the profile's url)."
    ).tag(config=True)
    data_source = Union(
        [Int(), Unicode()],
        default_value=None,
        allow_none=True,
        help="Default data source (id or name) for %%watch.",
    ).tag(config=True)
    max_age = Int(
        None,
        allow_none=True,
        help="Default max_age in seconds. Unset (None): %watch accepts the server's cached "
        "result of any age and %%watch runs its SQL (as max_age=0); 0: always run.",
    ).tag(config=True)
    progress = Bool(True, help="Show job progress (a widget in notebooks).").tag(config=True)
    timeout = Float(None, allow_none=True, help="Overall deadline of a read, seconds.").tag(
        config=True
    )
    dtype_backend = CaselessStrEnum(
        ["numpy_nullable", "pyarrow"],
        default_value="numpy_nullable",
        help="pandas dtype backend of the frames.",
    ).tag(config=True)

    @validate("max_age")
    def _check_max_age(self, proposal: Any) -> int | None:
        """Refuse a bad default when it is set, not in every later %watch."""
        try:
            return check_max_age(
                proposal["value"], name="WatchMagic.max_age", any_age="set it to None"
            )
        except ConfigError as exc:
            raise TraitError(str(exc)) from None

    @no_var_expand
    @line_cell_magic
    def watch(self, line: str, cell: str | None = None):
        """Run SQL or read a saved query into a DataFrame.

        Cell magic (ad-hoc SQL; the body is the SQL)::

            %%watch [VAR] [--data-source ID|NAME] [--max-age S] [--param NAME=VALUE ...]
                    [--params EXPR] [--output pandas|arrow|polars]
                    [--save NAME [--save-id ID] [--publish] [--tag TAG ...]]

        Line magic (saved query)::

            %watch QUERY_ID [VAR] [NAME=VALUE ...] [--max-age S] [--interactive]
                   [--output pandas|arrow|polars]
            %watch LINK [VAR] [NAME=VALUE ...] [--max-age S] [--output ...]

        ``--save NAME`` saves the cell as your query ``NAME`` once it ran (a failing cell
        saves nothing) and prints its link; the frame is assigned as usual (docs/jupyter.md).

        ``LINK`` is a result, query or dashboard link (:func:`watch_pandas.read_watch_url`);
        the configured key is sent only to ``WatchMagic.url``'s server.

        ``VALUE`` is taken as text, or as a notebook variable's Python value when written
        ``$name`` (so a ``date`` stays a date); repeat a name to send a list. ``--params``
        takes a dict expression evaluated in the notebook (``$my_dict`` or ``my_dict``).
        With ``VAR`` the frame is assigned to it; otherwise it is returned (and displayed).
        A failure fails the cell with one line (and leaves ``VAR`` as it was).
        Defaults: ``%config WatchMagic`` lists them, ``%config WatchMagic.max_age = 0``
        sets one.
        """
        with _wording.use(_wording.MAGIC):  # messages name what a notebook can set
            if cell is None:
                return self._line(line)
            return self._cell(line, cell)

    @line_magic
    def watch_schema(self, line: str):
        """Show a data source's tables and columns; ``--refresh`` reads them again (and
        updates what Tab completes in ``%%watch`` cells)::

            %watch_schema [DATA_SOURCE] [--refresh]

        Without ``DATA_SOURCE``: ``%config WatchMagic.data_source``.
        """
        words = line.split()
        refresh = "--refresh" in words
        rest = [w for w in words if w != "--refresh"]
        if len(rest) > 1 or any(w.startswith("-") for w in rest):
            raise UsageError("%watch_schema: usage: %watch_schema [DATA_SOURCE] [--refresh]")
        source: Any = rest[0] if rest else self.data_source
        if source is None or source == "":
            raise UsageError(
                "%watch_schema: no data source; give one or set "
                "%config WatchMagic.data_source = 'NAME'."
            )
        from ._schema_browser import schema_frame

        with self._client() as client:
            try:
                tables = client.get_schema(source, refresh=refresh, timeout=self.timeout)
            except _USER_MISTAKES as exc:
                raise UsageError(_one_line(exc)) from None
            except _RUN_FAILURES as exc:
                raise WatchMagicError(_one_line(exc)) from exc
        self.completer.remember(source, tables)
        return schema_frame(tables)

    @property
    def completer(self) -> WatchCompleter:
        """Tab completion for these magics, with its per-session caches."""
        if self._completer is None:
            from ._completion import WatchCompleter

            self._completer = WatchCompleter(self._client, lambda: self.data_source)
        return self._completer

    _completer: WatchCompleter | None = None

    @property
    def _saved_queries(self) -> dict[tuple[str, str], Query]:
        """(server, name) → the query a ``--save`` of this session last saved there, so the
        next save of the cell notices someone else's change in between."""
        if self._saved is None:
            self._saved = {}
        return self._saved

    _saved: dict[tuple[str, str], Query] | None = None

    @property
    def _ipython(self) -> InteractiveShell:
        """The shell these magics serve (``Magics.shell`` is typed Optional)."""
        if self.shell is None:  # only a WatchMagic built by hand, outside IPython
            raise UsageError("%watch needs IPython: load it with %load_ext watch_pandas.")
        return self.shell

    @property
    def _namespace(self) -> dict[str, Any]:
        """The notebook's variables."""
        return self._ipython.user_ns

    # -- steps ---------------------------------------------------------------------------
    def _cell(self, line: str, sql: str):
        args = _parse(_CELL_PARSER, line)
        var = _check_var(args.var, _CELL)
        if args.save is None and (args.save_id is not None or args.publish or args.tag):
            raise UsageError("%%watch: --save-id, --publish and --tag go with --save NAME.")
        if args.save is not None and not args.save.strip():
            raise UsageError("%%watch: --save needs the query's name, e.g. --save 'Daily volume'.")
        if not sql.strip():
            raise UsageError("%%watch: the cell is empty; write the SQL below the %%watch line.")
        source = args.data_source if args.data_source is not None else self.data_source
        if isinstance(source, str):
            source = self._value(source, _CELL)  # --data-source $name: the variable's value
        if source is None or source == "":
            raise UsageError(
                "%%watch: no data source; pass --data-source ID|NAME or set "
                "%config WatchMagic.data_source = 'NAME'."
            )
        if isinstance(source, str) and source.strip().isdigit():
            source = int(source)
        params = self._params(args.params, args.param, _CELL)
        from ._api import run_sql

        with self._client() as client:
            try:
                frame = self._guarded(
                    lambda: run_sql(
                        sql,
                        source,
                        params,
                        max_age=self._max_age(args.max_age, unset=0),
                        timeout=self.timeout,
                        dtype_backend=self.dtype_backend,
                        progress=None if self.progress else False,
                        client=client,
                        output=args.output,
                    ),
                    link=None,
                    var=var,
                )
            except (UsageError, WatchMagicError) as exc:
                if args.save is None:
                    raise
                # run first, save on success: SQL that does not run is not saved
                raise type(exc)(f"{exc} The cell was not saved as a query.") from exc.__cause__
            shown = self._hand_over(frame, var)
            if args.save is not None:
                self._save(client, sql, source, params, args, var)
        return shown

    def _save(
        self,
        client: WatchClient,
        sql: str,
        source: int | str,
        params: dict[str, Any],
        args: argparse.Namespace,
        var: str | None,
    ) -> None:
        """Save the cell that just ran as a query and print its link (docs/jupyter.md)."""
        name: str = args.save
        key = (client.url, name)
        saved_before = self._saved_queries
        target: int | Query | None = (
            args.save_id if args.save_id is not None else saved_before.get(key)
        )
        try:
            saved = client.save_query(
                sql,
                name,
                source,
                parameters=params,
                tags=args.tag,
                publish=args.publish,
                query=target,
            )
        except WatchError as exc:
            saved_before.pop(key, None)  # told of it: replacing it now takes --save-id
            kept = f"the frame was assigned to {var}" if var else "the frame was read"
            message = f"%%watch: {kept}, but the cell was not saved as a query: {_one_line(exc)}"
            if isinstance(exc, _USER_MISTAKES):
                raise UsageError(message) from None
            raise WatchMagicError(message) from exc
        saved_before[key] = saved
        verb = "Updated" if target is not None else "Created"
        print(f"{verb} query {saved.id} ({saved.name!r}): {client.query_url(saved.id)}/source")

    def _line(self, line: str):
        args = _parse(_LINE_PARSER, line)
        if not args.words:
            raise UsageError("%watch: give a query id: %watch QUERY_ID [VAR] [NAME=VALUE ...]")
        if _is_link(args.words[0]):
            return self._link(args)
        query_id = self._query_id(args.words[0])
        var, pairs = self._var_and_pairs(args.words[1:], "query id")
        params = self._params(args.params, pairs, _LINE)
        if args.interactive:
            if args.output != "pandas":
                raise UsageError(
                    f"%watch --interactive shows pandas frames only; leave out --output "
                    f"{args.output}, or read without --interactive."
                )
            return self._picker(query_id, params, var, args.max_age)
        from ._api import read_watch_query

        with self._client() as client:
            frame = self._guarded(
                lambda: read_watch_query(
                    query_id,
                    params,
                    max_age=self._max_age(args.max_age),
                    timeout=self.timeout,
                    dtype_backend=self.dtype_backend,
                    progress=None if self.progress else False,
                    client=client,
                    output=args.output,
                ),
                link=client.query_url(query_id),
                var=var,
            )
        return self._hand_over(frame, var)

    def _link(self, args: argparse.Namespace):
        """``%watch <link> [VAR] [NAME=VALUE ...]``: the link read by ``read_watch_url``; the
        configured key is sent only to ``WatchMagic.url`` (docs/links.md)."""
        if args.interactive:
            raise UsageError("%watch: --interactive takes a query id, not a link.")
        var, pairs = self._var_and_pairs(args.words[1:], "link")
        params = self._params(args.params, pairs, _LINE)
        from ._links import parse_link, read_link

        try:
            shown = parse_link(args.words[0]).display  # never the link's key
        except _USER_MISTAKES as exc:
            raise UsageError(_one_line(exc)) from None
        frame = self._guarded(
            lambda: read_link(
                args.words[0],
                params,
                max_age=self._max_age(args.max_age),
                url=None,
                api_key=None,
                profile=self.profile or None,
                timeout=self.timeout,
                dtype_backend=self.dtype_backend,
                progress=None if self.progress else False,
                client=None,
                cache=True,
                offline=None,
                cache_dir=None,
                home=self.url or None,
                output=args.output,
            ),
            link=shown,
            var=var,
        )
        return self._hand_over(frame, var)

    def _var_and_pairs(self, words: list[str], after: str) -> tuple[str | None, list[str]]:
        """The optional variable name and the NAME=VALUE pairs that follow the query id/link."""
        var: str | None = None
        pairs: list[str] = []
        for word in words:
            if "=" in word:
                pairs.append(word)
            elif var is None:
                var = _check_var(word, _LINE)
            else:
                raise UsageError(
                    f"%watch: unexpected {word!r}; parameters are NAME=VALUE and only one "
                    f"variable name may follow the {after}."
                )
        return var, pairs

    def _picker(self, query_id: int, params: dict[str, Any], var: str | None, max_age):
        try:
            from .widgets import picker
        except ImportError as exc:  # pragma: no cover - widgets imports ipywidgets lazily
            raise UsageError(f"%watch --interactive: {exc}") from None

        def assign(frame) -> None:
            if var is not None:
                self._namespace[var] = frame

        try:
            return picker(
                query_id,
                url=self.url or None,
                profile=self.profile or None,
                params=params,
                on_result=assign,
                max_age=self._max_age(max_age),
                timeout=self.timeout,
                dtype_backend=self.dtype_backend,
            )
        except ImportError as exc:
            raise UsageError(f"%watch --interactive: {exc}") from None
        except _USER_MISTAKES as exc:
            raise UsageError(_one_line(exc)) from None
        except _RUN_FAILURES as exc:  # reading the query's definitions failed
            raise WatchMagicError(_one_line(exc)) from exc

    @contextmanager
    def _client(self):
        from ._client import WatchClient

        try:
            client = WatchClient(self.url or None, None, profile=self.profile or None)
        except _USER_MISTAKES as exc:
            raise UsageError(_one_line(exc)) from None
        try:
            yield client
        finally:
            client.close()

    def _guarded(self, read, *, link: str | None, var: str | None) -> pd.DataFrame:
        """Run ``read``; user mistakes → UsageError, failed runs → WatchMagicError (one line)."""
        try:
            return read()
        except _USER_MISTAKES as exc:
            raise UsageError(_one_line(exc)) from None
        except _RUN_FAILURES as exc:
            if isinstance(exc, QueryFailedError) and exc.server_message:
                # a database's message may span lines (PostgreSQL's "LINE 1: …" and caret)
                lines = (line.strip() for line in exc.server_message.splitlines())
                message = "the query failed: " + " ".join(line for line in lines if line)
            else:
                message = _one_line(exc)
            if link and link not in message:
                message += f" ({link})"
            raise WatchMagicError(self._not_assigned(message, var)) from exc

    def _not_assigned(self, message: str, var: str | None) -> str:
        """``message`` and what the failure did to the variable (a stale value is no result)."""
        if var is None:
            return message
        kept = " (it keeps its earlier value)" if var in self._namespace else ""
        end = " " if message.endswith(".") else ". "
        return f"{message}{end}{var} was not assigned{kept}."

    def _hand_over(self, frame: Any, var: str | None):
        if var is not None:
            self._namespace[var] = frame
            return None
        return frame

    def _max_age(self, given: int | None, *, unset: int | None = None) -> int | None:
        """The cell's ``--max-age``, else the configured default, else ``unset``."""
        if given is not None:
            return given
        return self.max_age if self.max_age is not None else unset

    def _query_id(self, word: str) -> int:
        value = self._value(word, _LINE)
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise UsageError(f"%watch: the query id must be a number, not {value!r}.")
        text = str(value).strip()
        if not text.isdigit():
            link = link_instead_of_id(text, "the query id")
            raise UsageError(f"%watch: {link or f'the query id must be a number, not {text!r}.'}")
        return int(text)

    def _value(self, text: str, prog: str) -> Any:
        """``$name`` → the notebook variable's Python value; anything else stays text."""
        if text.startswith("$") and len(text) > 1:
            name = text[1:]
            if name.startswith("{") and name.endswith("}"):
                name = name[1:-1]
            if name not in self._namespace:
                raise UsageError(f"{prog}: ${name} is not defined in the notebook.")
            return self._namespace[name]
        return text

    def _params(self, expression: str | None, pairs: list[str], prog: str) -> dict[str, Any]:
        """Merge ``--params EXPR`` with the NAME=VALUE pairs (pairs win; repeats → a list).

        NAME is any text the server renders as a placeholder's name (trimmed, so "my param"
        when quoted); a dotted NAME reads a key of a value (``period.start``, ``p.foo``).
        """
        params: dict[str, Any] = {}
        if expression:
            params.update(self._params_expression(expression, prog))
        named: list[tuple[str, Any]] = []
        for pair in pairs:
            name, sep, raw = pair.partition("=")
            name = name.strip()
            if not sep or not all(part.strip() for part in name.split(".")):
                raise UsageError(
                    f"{prog}: {pair!r} is not NAME=VALUE (for example start=2024-01-01, "
                    'start=$start_date, period.start=2024-01-01, or "my param=1" quoted for a '
                    "name with spaces)."
                )
            named.append((name, self._value(raw, prog)))
        try:
            params.update(collect_pairs(named))
        except ParameterError as exc:
            raise UsageError(f"{prog}: {exc}") from None
        return params

    def _params_expression(self, expression: str, prog: str) -> Mapping[str, Any]:
        text = expression.strip()
        text = text[1:] if text.startswith("$") else text
        try:
            value = self._ipython.ev(text)
        except Exception as exc:
            raise UsageError(
                f"{prog}: --params {expression!r} could not be evaluated: "
                f"{type(exc).__name__}: {exc}"
            ) from None
        if not isinstance(value, Mapping):
            raise UsageError(
                f"{prog}: --params must be a dict of parameter values, not {type(value).__name__}."
            )
        return value


def _parse(parser: MagicArgumentParser, line: str) -> argparse.Namespace:
    """Parse a magic line (MagicArgumentParser turns argparse errors into UsageError)."""
    from IPython.utils.process import arg_split

    words = arg_split(line, posix=True, strict=False)
    _check_params_word(parser.prog, words)
    try:
        return parser.parse_intermixed_args(words)
    except UsageError as exc:
        raise UsageError(f"{parser.prog}: {exc}") from None


def _check_params_word(prog: str, words: list[str]) -> None:
    """An unquoted ``--params {"a": 5}`` is split at its spaces, leaving ``5}`` as a stray
    word: say to quote the dict or pass a variable instead of naming the stray piece."""
    for flag, value in pairwise(words):
        if flag == "--params" and value.count("{") > value.count("}"):
            raise UsageError(
                f"{prog}: the --params dict was cut at its spaces: quote it "
                f"(--params '{{\"min_price\": 5}}') or pass it as a variable (--params $my_params)."
            )


def _one_line(exc: Exception) -> str:
    """The error as one line, with the notebook's way to configure."""
    return one_line(
        exc,
        config_hint="Set WATCH_URL and WATCH_API_KEY, or pick a config-file profile with "
        "%config WatchMagic.profile = 'NAME' (see help(watch_pandas._config)).",
    )


def _is_link(word: str) -> bool:
    """An http(s) address where a query id may stand (``$variables`` are not links)."""
    return word.strip().lower().startswith(("http://", "https://"))


def _check_var(name: str | None, prog: str) -> str | None:
    if name is not None and not name.isidentifier():
        raise UsageError(f"{prog}: {name!r} is not a valid variable name to assign the frame to.")
    return name


def load_ipython_extension(ipython) -> None:
    """Register ``%watch``/``%%watch`` (``%load_ext watch_pandas``); idempotent."""
    unload_ipython_extension(ipython)
    magic = WatchMagic(shell=ipython)
    ipython.register_magics(magic)
    completer = getattr(ipython, "Completer", None)
    if completer is not None:
        completer.custom_matchers.append(magic.completer.matcher)


def unload_ipython_extension(ipython) -> None:
    """Forget an earlier WatchMagic (its options) so a reload starts clean."""
    completer = getattr(ipython, "Completer", None)
    if completer is not None:
        completer.custom_matchers[:] = [
            m
            for m in completer.custom_matchers
            if not isinstance(getattr(m, "__self__", None), _completion_type())
        ]
    configurables = getattr(ipython, "configurables", None)
    if configurables is not None:
        configurables[:] = [c for c in configurables if not isinstance(c, WatchMagic)]


def _completion_type() -> type:
    from ._completion import WatchCompleter

    return WatchCompleter
