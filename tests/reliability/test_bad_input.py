"""Bad input: fuzzed parameters (client-side and against the server) and hostile configuration.

Every bad parameter is refused with a ParameterError naming it before anything executes
(the server's counters show no POST), or is passed through the server's own mechanism
unchanged (text parameters). Configuration mistakes are ConfigErrors that say how to fix them.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import warnings

import pytest
from _slow import examples
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from watch_pandas import WatchClient, read_watch_query
from watch_pandas import _params as P
from watch_pandas._config import resolve_config
from watch_pandas.errors import ConfigError, NotFoundError, ParameterError

FUZZ = settings(max_examples=examples(300), deadline=None, derandomize=True, database=None)
DEFINITIONS = P.parse_definitions(
    [
        {"name": "n", "type": "number", "value": 1},
        {"name": "e", "type": "enum", "value": "a", "enumOptions": "a\nb\nc"},
        {"name": "d", "type": "date", "value": "2024-01-01"},
        {"name": "r", "type": "date-range", "value": {"start": "2024-01-01", "end": "2024-01-31"}},
        {"name": "t", "type": "text", "value": "x"},
    ]
)
INJECTION = st.sampled_from(
    [
        "'; DROP TABLE prices; --",
        "1 OR 1=1",
        "{{ n }}",
        "a\nb",
        "' UNION SELECT 1 --",
        "\x00",
        "1; SELECT 1",
        "../../etc/passwd",
        "${jndi:ldap://x}",
        "%s%s%s",
        "\u202e1",
    ]
)
ANYTHING = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**80), 2**80),
    st.floats(),
    st.text(max_size=20),
    INJECTION,
    st.dates(),
    st.datetimes(),
    st.lists(st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3),
    st.tuples(st.text(max_size=12), st.text(max_size=12)),
)


def _resolve(name: str, value: object) -> dict:
    return P.resolve_parameters(DEFINITIONS, {name: value}, now=dt.datetime(2024, 6, 1))


@FUZZ
@given(value=ANYTHING)
def test_number_is_a_finite_number_or_refused_by_name(value):
    try:
        wire = _resolve("n", value)["n"]
    except ParameterError as exc:
        assert exc.name == "n" and "'n'" in str(exc)
        return
    assert not isinstance(wire, bool) and isinstance(wire, (int, float))
    assert wire == wire and wire not in (float("inf"), float("-inf"))


@FUZZ
@given(value=ANYTHING)
def test_enum_is_an_option_or_refused_naming_the_options(value):
    try:
        wire = _resolve("e", value)["e"]
    except ParameterError as exc:
        assert exc.name == "e" and "a" in (exc.allowed or "")
        return
    assert wire in ("a", "b", "c")


@FUZZ
@given(value=st.one_of(ANYTHING, st.from_regex(r"\A\d{4}-\d{2}-\d{2}\Z")))
def test_date_is_a_real_calendar_date_or_refused(value):
    try:
        wire = _resolve("d", value)["d"]
    except ParameterError as exc:
        assert exc.name == "d"
        return
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", wire)
    dt.date.fromisoformat(wire)  # a real date, not 2024-13-45


@FUZZ
@given(start=st.dates(), end=st.dates())
def test_range_start_after_end_is_refused(start, end):
    try:
        wire = _resolve("r", (start, end))["r"]
    except ParameterError as exc:
        assert start > end and "after the end" in str(exc)
        return
    assert start <= end and wire == {"start": start.isoformat(), "end": end.isoformat()}


@FUZZ
@given(value=st.one_of(st.text(), INJECTION))
def test_text_is_sent_verbatim(value):
    assert _resolve("t", value)["t"] == value


@FUZZ
@given(name=st.text(min_size=1, max_size=20).filter(lambda n: n not in "nedrt"))
def test_unknown_names_are_refused(name):
    with pytest.raises(ParameterError) as caught:
        _resolve(name, 1)
    assert caught.value.name == name and "Known parameters: 'n'" in str(caught.value)


# -- against the server: refused before anything executes --------------------------------
@pytest.fixture
def read_counting(local_watch_demo):
    lw = local_watch_demo
    client = WatchClient(lw.url, lw.admin_key, backoff_factor=0)
    yield lw, client
    client.close()


@settings(
    max_examples=examples(60),
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    which=st.sampled_from(["chain", "min_price", "period", "unknown"]),
    value=st.one_of(
        INJECTION,
        st.booleans(),
        st.floats(allow_nan=True),
        st.just("2024-13-45"),
        st.just({"start": "2024-02-01", "end": "2024-01-01"}),
    ),
)
def test_bad_values_never_reach_the_server(read_counting, tmp_path_factory, which, value):
    lw, client = read_counting
    query = {"chain": "param_enum", "min_price": "price_history", "period": "price_history"}
    qid = lw.demo.queries[query.get(which, "param_enum")]
    before = lw.counters.snapshot()
    try:
        read_watch_query(qid, {which: value}, client=client, progress=False, cache=False)
    except ParameterError as exc:
        assert exc.name and which in exc.name
    else:  # only a value the definition accepts may run (e.g. a float for a number)
        assert which == "min_price" and isinstance(value, float)
        return
    after = lw.counters.snapshot()
    assert after["executions"] == before["executions"]
    posts = {k: v for k, v in after["requests"].items() if k.startswith("POST")}
    assert posts == {k: v for k, v in before["requests"].items() if k.startswith("POST")}


# -- hostile configuration -----------------------------------------------------------------
@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for name in ("WATCH_URL", "WATCH_API_KEY", "WATCH_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WATCH_CONFIG", str(tmp_path / "config.toml"))
    return tmp_path / "config.toml"


@pytest.mark.parametrize("key", ["", "   ", "\t\n"])
def test_empty_or_blank_key_is_a_config_error(clean_env, key):
    with pytest.raises(ConfigError, match="(?i)key"):
        resolve_config("http://127.0.0.1:5000", key)


@pytest.mark.parametrize(
    ("given", "normalised"),
    [
        ("http://127.0.0.1:5000/", "http://127.0.0.1:5000"),
        ("http://127.0.0.1:5000/watch/", "http://127.0.0.1:5000/watch"),
        ("http://127.0.0.1:5000//", "http://127.0.0.1:5000"),
    ],
)
def test_url_with_a_trailing_slash_or_a_path_prefix(clean_env, given, normalised):
    assert resolve_config(given, "k" * 40).url == normalised


def test_path_prefix_is_kept_in_every_request(local_watch_demo, clean_env):
    """A server mounted under a prefix: requests go below it. The local server has no prefix,
    so the request is a 404, and its counters name the path that was asked for."""
    lw = local_watch_demo
    client = WatchClient(lw.url + "/prefix/", lw.admin_key)
    assert client.url.endswith("/prefix")
    with pytest.raises(NotFoundError):
        client.get_query(1)
    assert lw.counters.requests("GET", "/prefix/api/queries/1") == 1, lw.counters.snapshot()
    assert lw.counters.requests() == 1, lw.counters.snapshot()  # none went around the prefix


def test_plain_http_to_a_remote_host_warns(clean_env):
    with pytest.warns(UserWarning, match="(?i)http"):
        resolve_config("http://watch.example.com", "k" * 40)


def test_plain_http_to_loopback_does_not_warn(clean_env):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        resolve_config("http://127.0.0.1:5000", "k" * 40)


def test_bad_toml_is_a_clear_config_error(clean_env):
    clean_env.write_text('[default]\nurl = "http://127.0.0.1:5000\napi_key = 3\n')
    os.chmod(clean_env, 0o600)
    with pytest.raises(ConfigError) as caught:
        resolve_config()
    assert str(clean_env) in str(caught.value)


def test_config_file_readable_by_others_is_refused(clean_env):
    clean_env.write_text('[default]\nurl = "http://127.0.0.1:5000"\napi_key = "SECRETKEY123"\n')
    os.chmod(clean_env, 0o644)
    with pytest.raises(ConfigError, match="(?i)chmod 600|permission") as caught:
        resolve_config()
    assert "SECRETKEY123" not in str(caught.value)
