"""The error tree and the one-line rendering used by the command line and the magics."""

from __future__ import annotations

import pytest

from watch_pandas.errors import (
    AuthError,
    ConfigError,
    ForbiddenError,
    ParameterError,
    QueryFailedError,
    ServerError,
    TransportError,
    WatchError,
    WatchTimeoutError,
    one_line,
)


def test_errors_keep_their_context_and_builtin_bases():
    exc = ParameterError("bad", name="flag", value="2", allowed="one of '0', '1'", query_id=3)
    assert (exc.name, exc.value, exc.allowed, exc.query_id) == ("flag", "2", "one of '0', '1'", 3)
    assert isinstance(exc, ValueError) and isinstance(exc, WatchError)
    assert isinstance(WatchTimeoutError("t"), TimeoutError)
    assert issubclass(ForbiddenError, AuthError) and issubclass(TransportError, ServerError)
    failed = QueryFailedError("The query failed: boom", server_message="boom", job_id="j")
    assert failed.server_message == "boom" and failed.job_id == "j" and str(failed).endswith("boom")


def test_one_line_keeps_a_single_line_message():
    assert one_line(WatchError("Query 3 not found.")) == "Query 3 not found."


def test_one_line_cuts_multi_line_help_and_adds_the_config_hint():
    exc = ConfigError("Nothing configured. Give it in one of three ways:\n  1. a\n  2. b")
    assert one_line(exc, config_hint="Use --url.") == "Nothing configured. Use --url."


@pytest.mark.parametrize("exc", [ServerError("first\nsecond"), ConfigError("x\ny")])
def test_one_line_never_returns_more_than_one_line(exc):
    assert "\n" not in one_line(exc, config_hint="hint")


def test_one_line_of_an_empty_message_names_the_error():
    assert one_line(AuthError("")) == "AuthError"
