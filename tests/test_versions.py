"""watch_pandas.show_versions(): what a bug report needs, and never the key."""

from __future__ import annotations

import importlib.util
import os
import platform
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

import watch_pandas

KEY = "s3cr3t-user-key-0123456789"


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private config file with one profile holding KEY; no URL/key in the environment."""
    path = tmp_path / "config.toml"
    path.write_text(f'[profiles.default]\nurl = "https://watch.example.org"\napi_key = "{KEY}"\n')
    path.chmod(0o600)
    monkeypatch.setenv("WATCH_CONFIG", str(path))
    for name in ("WATCH_URL", "WATCH_API_KEY", "WATCH_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    return path


def test_reports_versions_scanner_config_and_cache(config_file: Path, tmp_path: Path) -> None:
    cache = Path(os.environ["WATCH_CACHE_DIR"])  # the test's own (conftest)
    cache.mkdir(parents=True)
    (cache / "x.parquet").write_bytes(b"0" * 1234)

    info = watch_pandas.show_versions(as_dict=True)

    assert info["python"] == sys.version.split()[0]
    assert info["platform"] == platform.platform()
    for dist in ("watch-pandas", "pandas", "pyarrow", "requests", "urllib3", "msgspec"):
        assert info[dist] == version(dist)
    assert info["ipywidgets"] == version("ipywidgets")  # the test extra installs it
    built = importlib.util.find_spec("watch_pandas._scan") is not None
    assert info["compiled row scanner"] == ("built" if built else "not built")
    assert info["config file"] == f"{config_file} (exists)"
    assert info["url"] == "https://watch.example.org"
    assert info["api key"] == "set (from profile 'default')"
    assert info["cache folder"] == str(cache)
    assert info["cache size"] == "1234 bytes in 1 file"
    assert info["offline"] == "no"


def test_the_key_never_appears(config_file: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("WATCH_API_KEY", KEY + "-env")
    monkeypatch.setenv("WATCH_URL", "https://other.example.org")
    assert watch_pandas.show_versions() is None
    printed = capsys.readouterr().out
    info = watch_pandas.show_versions(as_dict=True)
    assert KEY not in printed and KEY not in repr(info)
    assert info["api key"] == "set (from WATCH_API_KEY)"
    assert "https://other.example.org" in printed  # the report was printed


def test_missing_configuration_is_reported_not_raised(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("WATCH_CONFIG", str(tmp_path / "absent.toml"))
    for name in ("WATCH_URL", "WATCH_API_KEY", "WATCH_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    info = watch_pandas.show_versions(as_dict=True)
    assert info["config file"] == f"{tmp_path / 'absent.toml'} (does not exist)"
    assert info["url"] is None
    assert info["api key"].startswith("not configured: ")
    assert "No Watch server URL and API key configured" in info["api key"]  # what is missing


def test_a_bad_key_is_described_without_its_text(config_file, monkeypatch) -> None:
    monkeypatch.setenv("WATCH_URL", "https://watch.example.org")
    monkeypatch.setenv("WATCH_API_KEY", KEY + "\u2013x")  # a typographic dash
    info = watch_pandas.show_versions(as_dict=True)
    assert KEY not in repr(info)
    assert info["api key"].startswith("not configured: ")


def test_printed_like_pandas(config_file, capsys) -> None:
    watch_pandas.show_versions()
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == ["INSTALLED VERSIONS", "------------------"]
    assert any(line.startswith("pandas") and version("pandas") in line for line in lines)


def test_as_dict_must_be_a_bool() -> None:
    with pytest.raises(watch_pandas.ConfigError, match="as_dict must be True or False"):
        watch_pandas.show_versions(as_dict="yes")  # type: ignore[call-overload]
