"""Configuration resolution: arguments > environment > config-file profile."""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

import pytest

from watch_pandas._config import WatchConfig, config_path, normalize_url, resolve_config
from watch_pandas.errors import ConfigError

SECRET = "SECRETKEY1234567890abcdef"
posix_only = pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No WATCH_* variable leaks in from the machine; the config file lives in tmp_path."""
    for name in ("WATCH_URL", "WATCH_API_KEY", "WATCH_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "config.toml"
    monkeypatch.setenv("WATCH_CONFIG", str(path))
    return path


@pytest.fixture
def write_config(clean_env: Path):
    def write(text: str, mode: int = 0o600) -> Path:
        clean_env.write_text(text, encoding="utf-8")
        clean_env.chmod(mode)
        return clean_env

    return write


PROFILES = """
default = "mainnet"

[profiles.mainnet]
url = "https://main.example.org/"
api_key = "MAINKEY"

[profiles.testnet]
url = "https://test.example.org/org1/"
api_key = "TESTKEY"

[profiles.default]
url = "https://default.example.org"
api_key = "DEFAULTKEY"
"""


# -- config_path ---------------------------------------------------------------------------
def test_config_path_honours_watch_config(clean_env: Path) -> None:
    assert config_path() == clean_env


def test_config_path_defaults_to_platform_config_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    import platformdirs

    monkeypatch.delenv("WATCH_CONFIG")
    expected = Path(platformdirs.user_config_dir("watch-pandas", appauthor=False)) / "config.toml"
    assert config_path() == expected
    assert config_path().parent.name == "watch-pandas"


# -- precedence ----------------------------------------------------------------------------
def test_arguments_win_over_environment_and_file(write_config, monkeypatch) -> None:
    write_config(PROFILES)
    monkeypatch.setenv("WATCH_URL", "https://env.example.org")
    monkeypatch.setenv("WATCH_API_KEY", "ENVKEY")
    config = resolve_config("https://arg.example.org/", "ARGKEY")
    assert (config.url, config.api_key) == ("https://arg.example.org", "ARGKEY")


def test_environment_wins_over_file(write_config, monkeypatch) -> None:
    write_config(PROFILES)
    monkeypatch.setenv("WATCH_API_KEY", "ENVKEY")
    config = resolve_config()
    # URL from the default profile, key from the environment: resolution is per field.
    assert (config.url, config.api_key) == ("https://main.example.org", "ENVKEY")
    assert config.profile == "mainnet"


def test_a_profile_key_is_never_sent_to_another_url(write_config) -> None:
    write_config(PROFILES)
    with pytest.raises(ConfigError) as info:
        resolve_config(url="https://attacker.example.org")
    message = str(info.value)
    assert "mainnet" in message and "https://main.example.org" in message
    assert "https://attacker.example.org" in message and "MAINKEY" not in message


def test_a_profile_key_with_an_environment_url_elsewhere_is_refused(write_config, monkeypatch):
    write_config(PROFILES)
    monkeypatch.setenv("WATCH_URL", "https://other.example.org")
    with pytest.raises(ConfigError, match="not sent there"):
        resolve_config()


def test_the_profile_url_given_again_is_fine(write_config) -> None:
    write_config(PROFILES)
    config = resolve_config(url="https://main.example.org")  # same as the profile's, no slash
    assert config.api_key == "MAINKEY"


def test_an_explicit_profile_wins_over_the_environment(write_config, monkeypatch) -> None:
    write_config(PROFILES)
    monkeypatch.setenv("WATCH_URL", "https://env.example.org")
    monkeypatch.setenv("WATCH_API_KEY", "ENVKEY")
    config = resolve_config(profile="testnet")
    assert (config.url, config.api_key) == ("https://test.example.org/org1", "TESTKEY")


def test_arguments_still_override_an_explicit_profile(write_config) -> None:
    write_config(PROFILES)
    config = resolve_config(url="https://arg.example.org", api_key="ARGKEY", profile="testnet")
    assert (config.url, config.api_key) == ("https://arg.example.org", "ARGKEY")


def test_file_top_level_default_picks_profile(write_config) -> None:
    write_config(PROFILES)
    config = resolve_config()
    assert (config.url, config.api_key, config.profile) == (
        "https://main.example.org",
        "MAINKEY",
        "mainnet",
    )


def test_profile_argument_wins_over_watch_profile(write_config, monkeypatch) -> None:
    write_config(PROFILES)
    monkeypatch.setenv("WATCH_PROFILE", "default")
    config = resolve_config(profile="testnet")
    assert config.url == "https://test.example.org/org1"  # multi-org prefix kept
    assert config.api_key == "TESTKEY"


def test_watch_profile_env_wins_over_file_default(write_config, monkeypatch) -> None:
    write_config(PROFILES)
    monkeypatch.setenv("WATCH_PROFILE", "testnet")
    assert resolve_config().profile == "testnet"


def test_profile_named_default_used_without_default_key(write_config) -> None:
    write_config(PROFILES.replace('default = "mainnet"', ""))
    config = resolve_config()
    assert (config.api_key, config.profile) == ("DEFAULTKEY", "default")


def test_file_not_read_when_arguments_suffice(write_config) -> None:
    write_config("this is [not toml")
    config = resolve_config("https://a.example.org", "K")
    assert config.profile is None


def test_empty_environment_variable_counts_as_unset(write_config, monkeypatch) -> None:
    write_config(PROFILES)
    monkeypatch.setenv("WATCH_API_KEY", "")
    assert resolve_config().api_key == "MAINKEY"


# -- missing / unknown ---------------------------------------------------------------------
def test_missing_everything_names_all_three_ways(clean_env: Path) -> None:
    with pytest.raises(ConfigError) as info:
        resolve_config()
    message = str(info.value)
    assert "url=" in message and "api_key=" in message
    assert "WATCH_URL" in message and "WATCH_API_KEY" in message
    assert str(clean_env) in message
    assert "[profiles." in message
    assert "server URL and API key" in message


def test_missing_key_only(monkeypatch, clean_env) -> None:
    monkeypatch.setenv("WATCH_URL", "https://a.example.org")
    with pytest.raises(ConfigError, match=r"No Watch API key configured"):
        resolve_config()


def test_profile_without_key_says_so(write_config) -> None:
    write_config('[profiles.default]\nurl = "https://a.example.org"\n')
    with pytest.raises(ConfigError, match=r"profile 'default' in .* does not set it"):
        resolve_config()


def test_unknown_profile_lists_available(write_config) -> None:
    write_config(PROFILES)
    with pytest.raises(ConfigError) as info:
        resolve_config(profile="nope")
    assert "'nope'" in str(info.value)
    assert "default, mainnet, testnet" in str(info.value)


def test_requested_profile_without_file(clean_env) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        resolve_config(profile="mainnet")


def test_bad_toml_reports_path_and_position(write_config) -> None:
    path = write_config('[profiles.x]\nurl = "https://a"\napi_key = \n')
    with pytest.raises(ConfigError) as info:
        resolve_config()
    assert str(path) in str(info.value)
    assert "line 3" in str(info.value)


def test_non_string_value_in_profile(write_config) -> None:
    write_config("[profiles.default]\nurl = 5\napi_key = 'K'\n")
    with pytest.raises(ConfigError, match=r"profiles.default.url must be a quoted string"):
        resolve_config()


@posix_only
@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_group_or_world_readable_file_refused(write_config, mode: int) -> None:
    path = write_config(PROFILES, mode=mode)
    with pytest.raises(ConfigError) as info:
        resolve_config()
    assert f"chmod 600 {path}" in str(info.value)


@posix_only
def test_private_file_accepted(write_config) -> None:
    write_config(PROFILES, mode=0o600)
    assert resolve_config().api_key == "MAINKEY"


# -- key and URL validation ----------------------------------------------------------------
@pytest.mark.parametrize("key", ["", "   ", "\t\n"])
def test_empty_key_rejected(key: str) -> None:
    with pytest.raises(ConfigError, match="empty"):
        resolve_config("https://a.example.org", key)


def test_key_with_inner_space_rejected_without_echoing_it() -> None:
    with pytest.raises(ConfigError) as info:
        resolve_config("https://a.example.org", "SECRET KEY123")
    assert "SECRET KEY123" not in str(info.value)


def test_key_surrounding_whitespace_stripped() -> None:
    assert resolve_config("https://a.example.org", f"  {SECRET}\n").api_key == SECRET


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("https://watch.example.org/", "https://watch.example.org"),
        ("https://watch.example.org///", "https://watch.example.org"),
        ("  HTTPS://watch.example.org:8443/myorg/ ", "https://watch.example.org:8443/myorg"),
        ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
        ("http://localhost:5000/", "http://localhost:5000"),
        ("http://[::1]:5000", "http://[::1]:5000"),
    ],
)
def test_url_normalised(given: str, expected: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # loopback http must not warn
        assert normalize_url(given) == expected


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        ("watch.example.org", "not an http(s) address"),
        ("ftp://watch.example.org", "not an http(s) address"),
        ("https://", "not an http(s) address"),
        ("https://user:pw@watch.example.org", "user name or password"),
        ("https://watch.example.org/?x=1", "query string"),
        ("https://watch.example.org/#x", "query string or fragment"),
        ("https://watch.example.org:notaport", "invalid port"),
    ],
)
def test_bad_url_rejected_with_reason(bad: str, says: str) -> None:
    with pytest.raises(ConfigError) as info:
        resolve_config(bad, SECRET)
    assert says in str(info.value)


@pytest.mark.parametrize(
    "url",
    [
        f"https://watch.example.org/api?api_key={SECRET}",
        f"watch.example.org/?api_key={SECRET}",
        f"https://{SECRET}@watch.example.org",
        f"ftp://{SECRET}@watch.example.org",
    ],
)
def test_secret_in_bad_url_never_echoed(url: str) -> None:
    with pytest.raises(ConfigError) as info:
        normalize_url(url)
    assert SECRET not in str(info.value)


def test_plain_http_to_remote_host_warns() -> None:
    with pytest.warns(UserWarning, match="cleartext"):
        resolve_config("http://watch.example.org", SECRET)


# -- repr ----------------------------------------------------------------------------------
def test_repr_and_str_hide_the_key() -> None:
    config = resolve_config("https://a.example.org", SECRET)
    for text in (repr(config), str(config), f"{config}", f"{config!r}"):
        assert SECRET not in text
        assert SECRET[-4:] not in text
        assert "https://a.example.org" in text


def test_config_is_frozen() -> None:
    config = WatchConfig("https://a.example.org", SECRET)
    with pytest.raises(AttributeError):
        config.api_key = "other"  # type: ignore[misc]


@pytest.mark.skipif(sys.version_info < (3, 11), reason="tomllib on 3.11+")
def test_reads_utf8_file_with_comments(write_config) -> None:
    write_config(
        '# my keys\n[profiles.default] # ü\nurl = "https://ü.example.org"\napi_key = "K"\n'
    )
    assert resolve_config().url == "https://ü.example.org"


# -- characters a header cannot carry, pasted URLs ------------------------------------------
@pytest.mark.parametrize(
    ("key", "name", "position"),
    [
        (f"{SECRET[:10]}\u2013{SECRET[10:]}", "EN DASH", 11),  # a dash "smartened" by an editor
        (f"{SECRET}\u00e9", "LATIN SMALL LETTER E WITH ACUTE", len(SECRET) + 1),
        (f"{SECRET[:4]}\u00a0{SECRET[4:]}", "NO-BREAK SPACE", 5),
        (f"{SECRET[:4]}\u200b{SECRET[4:]}", "ZERO WIDTH SPACE", 5),
        (f"{SECRET[:4]}\n{SECRET[4:]}", "U+000A", 5),
    ],
)
def test_a_key_character_that_cannot_go_in_a_header_is_named_not_echoed(key, name, position):
    with pytest.raises(ConfigError) as info:
        resolve_config("https://a.example.org", key, None)
    message = str(info.value)
    assert name in message and f"character {position}" in message and "header" in message
    assert SECRET not in message and SECRET[:10] not in message and SECRET[-8:] not in message


def test_a_bad_key_is_refused_before_the_client_sends_anything(monkeypatch) -> None:
    from watch_pandas import WatchClient, read_watch_query

    monkeypatch.setenv("WATCH_API_KEY", f"{SECRET}\u2013")
    with pytest.raises(ConfigError, match="EN DASH"):
        WatchClient("https://a.example.org")
    with pytest.raises(ConfigError, match="EN DASH"):
        read_watch_query(1, url="https://a.example.org", progress=False)


@pytest.mark.parametrize(
    ("pasted", "base"),
    [
        ("https://watch.example.org/queries/3", "https://watch.example.org"),
        ("https://watch.example.org/queries/3/source", "https://watch.example.org"),
        ("https://watch.example.org/queries/3/source#12", "https://watch.example.org"),
        ("https://watch.example.org/queries/3?p_chain=arbitrum", "https://watch.example.org"),
        ("https://watch.example.org/queries/new", "https://watch.example.org"),
        ("https://watch.example.org/api", "https://watch.example.org"),
        ("https://watch.example.org/api/", "https://watch.example.org"),
        ("https://watch.example.org/api/queries/3", "https://watch.example.org"),
        ("https://watch.example.org/dashboard/defi-overview", "https://watch.example.org"),
        ("https://watch.example.org/dashboards", "https://watch.example.org"),
        ("https://watch.example.org/dashboards/4-defi", "https://watch.example.org"),
        ("https://watch.example.org/data_sources/1", "https://watch.example.org"),
        ("https://watch.example.org/users/me", "https://watch.example.org"),
        (
            "https://watch.example.org:8443/my-org/queries/3",
            "https://watch.example.org:8443/my-org",
        ),
        ("https://watch.example.org/my-org/api/queries/3", "https://watch.example.org/my-org"),
        ("https://watch.example.org/queries/my", "https://watch.example.org"),
        ("https://watch.example.org/queries/favorites", "https://watch.example.org"),
        ("https://watch.example.org/my-org/queries/archive", "https://watch.example.org/my-org"),
        ("https://watch.example.org/public/dashboards/Ab3xYz", "https://watch.example.org"),
        (
            "https://watch.example.org/o/public/dashboards/Ab3?org_slug=o",
            "https://watch.example.org/o",
        ),
        ("https://watch.example.org/embed/query/3/visualization/5", "https://watch.example.org"),
    ],
)
def test_a_pasted_page_or_api_address_names_the_base_address(pasted: str, base: str) -> None:
    with pytest.raises(ConfigError) as info:
        resolve_config(pasted, SECRET)
    message = str(info.value)
    assert f"'{base}'" in message
    assert "p_chain" not in message and "#12" not in message


def test_a_pasted_address_never_echoes_its_query_string() -> None:
    with pytest.raises(ConfigError) as info:
        normalize_url(f"https://watch.example.org/api/queries/3/results.json?api_key={SECRET}")
    assert SECRET not in str(info.value)
    assert "'https://watch.example.org'" in str(info.value)


@pytest.mark.parametrize(
    "url",
    [
        "https://watch.example.org/queries",  # an organisation may be called anything
        "https://watch.example.org/apis",
        "https://watch.example.org/my-org",
        "https://watch.example.org/queries-team",
        "https://watch.example.org/dashboard",
        "https://watch.example.org/public",
        "https://watch.example.org/embed",
    ],
)
def test_an_organisation_prefix_that_only_looks_like_a_route_is_kept(url: str) -> None:
    assert normalize_url(url) == url


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        ("https://watch example.org", "space"),
        ("https://watch.example.org/my org", "space"),
        ("https://watch.example.org\t", None),  # surrounding whitespace is fine
    ],
)
def test_a_url_with_inner_whitespace_is_refused(bad: str, says: str | None) -> None:
    if says is None:
        assert normalize_url(bad) == "https://watch.example.org"
        return
    with pytest.raises(ConfigError, match=says):
        normalize_url(bad)


def test_a_url_without_scheme_suggests_https() -> None:
    with pytest.raises(ConfigError) as info:
        normalize_url("watch.example.org/my-org")
    assert "'https://watch.example.org/my-org'" in str(info.value)


def test_a_query_link_given_as_the_id_names_the_id_and_base_without_echoing_it() -> None:
    from watch_pandas import WatchClient

    with WatchClient("https://watch.example.org", SECRET) as client:
        with pytest.raises(ConfigError) as info:
            client.get_query(f"https://watch.example.org/org/queries/6/source?api_key={SECRET}")
    message = str(info.value)
    assert "pass its id (6)" in message and "url='https://watch.example.org/org'" in message
    assert "read_watch_url" in message  # the link itself can be read
    assert SECRET not in message
