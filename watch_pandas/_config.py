"""Where the Watch URL and API key come from: arguments > environment > config-file profile.

The config file is TOML (``config_path()``; ``$WATCH_CONFIG`` overrides the location)::

    default = "mainnet"

    [profiles.mainnet]
    url = "https://watch.example.org"
    api_key = "..."

It holds keys, so on POSIX it must not be readable by group or others (``chmod 600``).
"""

from __future__ import annotations

import ipaddress
import os
import stat
import sys
import unicodedata
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from . import _wording
from .errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = [
    "WatchConfig",
    "config_path",
    "resolve_config",
    "normalize_url",
    "page_like_base",
    "query_link",
    "link_instead_of_id",
]

ENV_URL = "WATCH_URL"
ENV_API_KEY = "WATCH_API_KEY"
ENV_PROFILE = "WATCH_PROFILE"
ENV_CONFIG = "WATCH_CONFIG"
DEFAULT_PROFILE = "default"


@dataclass(frozen=True)
class WatchConfig:
    """A resolved server address and API key; ``profile`` names the profile used, if any."""

    url: str
    api_key: str = field(repr=False)
    profile: str | None = None

    def __repr__(self) -> str:
        return f"WatchConfig(url={self.url!r}, api_key='…', profile={self.profile!r})"


def config_path() -> Path:
    """The config file: ``$WATCH_CONFIG``, else ``<user config dir>/watch-pandas/config.toml``."""
    override = os.environ.get(ENV_CONFIG, "").strip()
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir("watch-pandas", appauthor=False)) / "config.toml"


def resolve_config(
    url: str | None = None, api_key: str | None = None, profile: str | None = None
) -> WatchConfig:
    """Resolve URL and key: explicit argument > ``WATCH_URL``/``WATCH_API_KEY`` > config profile.

    The profile is ``profile=``, else ``$WATCH_PROFILE``, else the file's top-level
    ``default = "name"``, else a profile called ``default``. An explicit ``profile=`` wins
    over the environment (only arguments override its fields). A key read from a profile is
    only ever sent to that profile's URL: combined with a URL from elsewhere it is refused.
    Raises :class:`ConfigError` when something is missing or malformed, saying how to fix it.
    """
    explicit = profile is not None
    requested = _explicit_profile(profile)
    env = () if explicit else (ENV_URL, ENV_API_KEY)
    url_value, url_source = _pick(url, _wording.current().url_source, env[0] if env else None)
    key_value, key_source = _pick(api_key, "the api_key= argument", env[1] if env else None)

    used_profile: str | None = None
    settings: dict[str, Any] = {}
    path = config_path()
    if url_value is None or key_value is None or requested is not None:
        settings, used_profile = _load_profile(path, requested)
        from_profile = f"profile {used_profile!r} in {path}"
        if url_value is None and settings.get("url") is not None:
            url_value, url_source = settings["url"], from_profile
        if key_value is None and settings.get("api_key") is not None:
            key_value, key_source = settings["api_key"], from_profile
            _check_key_stays_home(url_value, url_source, settings, used_profile, from_profile)

    if url_value is None or key_value is None:
        raise ConfigError(
            _missing_message(url_value is None, key_value is None, path, used_profile)
        )

    return WatchConfig(
        url=normalize_url(url_value, source=url_source),
        api_key=_check_key(key_value, source=key_source),
        profile=used_profile,
    )


def _check_key_stays_home(
    url_value: str | None,
    url_source: str,
    settings: dict[str, Any],
    profile: str | None,
    from_profile: str,
) -> None:
    """Refuse to send a profile's key to a URL other than that profile's own."""
    home = settings.get("url")
    if url_value is None or home is None or url_source == from_profile:
        return
    if normalize_url(url_value, source=url_source) != normalize_url(home, source=from_profile):
        raise ConfigError(
            f"The API key of profile {profile!r} belongs to {normalize_url(home)}, but the URL "
            f"{normalize_url(url_value)} comes from {url_source}; the key is not sent there. "
            f"Give {_wording.current().key_option} for that server, or use the profile's URL."
        )


def normalize_url(url: str, *, source: str = "the URL") -> str:
    """Validate a server URL and return it without a trailing slash (a path prefix is kept).

    Must be ``http(s)://host[:port][/org]`` without credentials, query string or fragment.
    Plain ``http://`` to a host other than loopback warns: the key would travel in cleartext.
    """
    if not isinstance(url, str):
        raise ConfigError(
            f"The Watch URL from {source} must be a string like 'https://watch.example.org', "
            f"not {type(url).__name__}."
        )
    text = url.strip()
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    # Echo the URL only when it cannot carry a secret (no query string, no user info).
    secret_free = not (parts.query or "@" in parts.netloc)
    if scheme not in ("http", "https") or not parts.hostname:
        shown = f" ({text!r})" if secret_free else ""
        example = "'https://watch.example.org'"
        if "://" not in text and secret_free and not text.startswith("/"):
            example = repr("https://" + text.rstrip("/"))  # a host pasted without its scheme
        raise ConfigError(
            f"The Watch URL from {source}{shown} is not an http(s) address with a host; "
            f"expected something like {example}."
        )
    if parts.username is not None or parts.password is not None:
        raise ConfigError(
            f"The Watch URL from {source} contains a user name or password; remove it and give "
            f"the API key as {_wording.current().key_option} instead."
        )
    blank = next((i for i, ch in enumerate(text, 1) if ch.isspace() or not ch.isprintable()), 0)
    if blank:
        raise ConfigError(
            f"The Watch URL from {source} contains a space or control character (character "
            f"{blank}); a server address has none. Check for a copy/paste mistake."
        )
    try:
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        raise ConfigError(
            f"The Watch URL from {source} has an invalid port; expected e.g. 'http://host:5000'."
        ) from None
    base = _base_before_route(parts.path)
    if base is not None:
        # A page or API address pasted from the browser: name the base address instead of
        # letting every request 404 ("query not found") under a wrong prefix.
        address = urlunsplit((scheme, parts.netloc, base, "", ""))
        words = _wording.current()
        raise ConfigError(
            f"The Watch URL from {source} is the address of a page or API route, not of the "
            f"server; use its base address {words.url(address)} (the API key goes in "
            f"{words.key_option})."
        )
    if parts.query or parts.fragment:
        raise ConfigError(
            f"The Watch URL from {source} has a query string or fragment; give only the base "
            "address (e.g. 'https://watch.example.org' or 'https://host/<org>'), and the key "
            f"as {_wording.current().key_option}, never in the URL."
        )
    normalized = urlunsplit((scheme, parts.netloc, parts.path.rstrip("/"), "", ""))
    if scheme == "http" and not _is_loopback(parts.hostname):
        warnings.warn(
            f"The Watch URL {normalized} uses plain http: the API key is sent in cleartext. "
            "Use https:// unless this is a trusted local network.",
            UserWarning,
            stacklevel=3,
        )
    return normalized


# -- helpers -------------------------------------------------------------------------------
# First path segments of the web UI's pages and of the API: what follows the base address
# (``https://host`` or, on a multi-org server, ``https://host/<org>``). A segment matches only
# when the rest of the path has the shape given, so an organisation called "queries" or
# "dashboard" keeps working: ``https://host/queries`` alone stays a base address (a 404 under
# it says it may be the query list page, see _http), ``https://host/queries/my`` does not.
_QUERY_LISTS = {"my", "favorites", "archive"}
_ROUTES: dict[str, Callable[[list[str]], bool]] = {
    "api": lambda rest: True,  # /api, /api/...
    # /queries/<id>..., /queries/new, the list pages /queries/my|favorites|archive
    "queries": lambda rest: bool(rest) and (rest[0].isdigit() or rest[0] in {"new", *_QUERY_LISTS}),
    "dashboard": bool,  # /dashboard/<slug>
    "dashboards": lambda rest: True,  # /dashboards, /dashboards/<id>-<slug>
    "data_sources": lambda rest: True,
    "users": bool,  # /users/<id>, /users/me
    "public": lambda rest: len(rest) > 1 and rest[0] == "dashboards",  # shared dashboard pages
    "embed": lambda rest: len(rest) > 1 and rest[0] == "query",  # embedded visualizations
}


def _base_before_route(path: str) -> str | None:
    """The path before a web-UI or API route in ``path``, or ``None`` if there is none."""
    segments = path.split("/")
    for index, segment in enumerate(segments):
        shape = _ROUTES.get(segment)
        rest = [part for part in segments[index + 1 :] if part]
        if shape is not None and shape(rest):
            return "/".join(segments[:index]).rstrip("/")
    return None


def query_link(text: str) -> tuple[int | None, str] | None:
    """A query's web-UI or API link given where a query id belongs: its id (``None`` if the
    link names none) and the server's base address (never the query string, which may hold a
    key); ``None`` when ``text`` is no http(s) link."""
    parts = urlsplit(text.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    base = _base_before_route(parts.path)
    if base is None:
        base = parts.path.rstrip("/")
    segments = [part for part in parts.path[len(base) :].split("/") if part]
    query_id = next(
        (
            int(after)
            for before, after in pairwise(segments)
            if before == "queries" and after.isdigit()
        ),
        None,
    )
    netloc = parts.netloc.rpartition("@")[2]  # no user info either
    return query_id, urlunsplit((parts.scheme.lower(), netloc, base, "", ""))


def link_instead_of_id(value: object, what: str) -> str | None:
    """The refusal for a link given as ``what`` (a query id), naming the id and the base
    address to use instead (the link itself is not echoed: it may hold a key); else ``None``."""
    link = query_link(value) if isinstance(value, str) else None
    if link is None:
        return None
    query_id, base = link
    words = _wording.current()
    use_id = f"pass its id ({query_id})" if query_id is not None else "pass the query's number"
    instead = " (or read the link itself with watch_pandas.read_watch_url)"
    return (
        f"{what} must be a number; {use_id} and set the server with {words.url(base)}"
        f"{instead if words is _wording.PYTHON else ''}."
    )


def page_like_base(url: str) -> str | None:
    """If ``url`` (a normalized base address) ends in a route's name, such as ``/queries``
    (kept: it may be an organisation), the address before it; else ``None``."""
    parts = urlsplit(url)
    head, _, last = parts.path.rstrip("/").rpartition("/")
    if last not in _ROUTES:
        return None
    return urlunsplit((parts.scheme, parts.netloc, head, "", ""))


def _pick(argument: str | None, argument_name: str, env_name: str | None) -> tuple[str | None, str]:
    """The explicit argument if given, else the environment variable if set and non-empty."""
    if argument is not None:
        return argument, argument_name
    if env_name is None:
        return None, ""
    env_value = os.environ.get(env_name)
    if env_value:
        return env_value, f"the environment variable {env_name}"
    return None, ""


def _explicit_profile(profile: str | None) -> str | None:
    if profile is not None:
        if not isinstance(profile, str) or not profile.strip():
            raise ConfigError("profile= must be a non-empty profile name, e.g. profile='mainnet'.")
        return profile.strip()
    env_value = os.environ.get(ENV_PROFILE, "").strip()
    return env_value or None


def _check_key(key: object, *, source: str) -> str:
    if not isinstance(key, str):
        raise ConfigError(f"The API key from {source} must be a string, not {type(key).__name__}.")
    stripped = key.strip()
    if not stripped:
        raise ConfigError(
            f"The API key from {source} is empty; copy the key from your Watch profile page "
            "(or the query's API key)."
        )
    for position, ch in enumerate(stripped, start=1):
        # The key travels in the Authorization header: only visible ASCII survives that
        # (requests would fail with UnicodeEncodeError on "–", or send Latin-1 bytes).
        if not ("!" <= ch <= "~"):
            raise ConfigError(
                f"The API key from {source} contains {_describe(ch)} at character {position}, "
                "which cannot be sent in an HTTP header; an API key is a single word of ASCII "
                "letters and digits. Copy it again from your Watch profile page (a pasted key "
                "often picks up a typographic dash, a space or a line break)."
            )
    return stripped


def _describe(ch: str) -> str:
    """A character by its Unicode name and code point (never the text around it)."""
    name = unicodedata.name(ch, "")
    code = f"U+{ord(ch):04X}"
    return f"{name} ({code})" if name else f"{code} (a control character)"


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _load_profile(path: Path, requested: str | None) -> tuple[dict[str, Any], str | None]:
    """The chosen profile's settings (``{}`` when there is no file and none was requested)."""
    if not path.is_file():
        if requested is not None:
            raise ConfigError(
                f"Profile {requested!r} was requested, but the config file {path} does not "
                f"exist. Create it with:\n{_profile_example(path, requested)}"
            )
        return {}, None
    document = _read_toml(path)
    profiles = document.get("profiles", {})
    if not isinstance(profiles, dict) or not all(isinstance(p, dict) for p in profiles.values()):
        raise ConfigError(
            f"In {path}, profiles must be TOML tables like [profiles.<name>]; "
            f"see:\n{_profile_example(path, 'mainnet')}"
        )
    name = requested
    if name is None:
        default = document.get("default")
        if default is not None and not isinstance(default, str):
            raise ConfigError(
                f'In {path}, default must be a profile name string: default = "name".'
            )
        name = default
    if name is None:
        name = DEFAULT_PROFILE if DEFAULT_PROFILE in profiles else None
        if name is None:
            return {}, None
    if name not in profiles:
        available = ", ".join(sorted(profiles)) or "none"
        raise ConfigError(
            f"Profile {name!r} is not in {path} (available profiles: {available}). "
            f"Add a [profiles.{name}] table or choose one of those."
        )
    settings = profiles[name]
    for field_name in ("url", "api_key"):
        value = settings.get(field_name)
        if value is not None and not isinstance(value, str):
            raise ConfigError(
                f"In {path}, profiles.{name}.{field_name} must be a quoted string, "
                f"not {type(value).__name__}."
            )
    return settings, name


def _read_toml(path: Path) -> dict[str, Any]:
    _check_permissions(path)
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"The config file {path} is not valid TOML: {exc}.") from None
    except OSError as exc:
        raise ConfigError(f"Cannot read the config file {path}: {exc.strerror or exc}.") from None


def _check_permissions(path: Path) -> None:
    if os.name != "posix":
        return
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise ConfigError(f"Cannot read the config file {path}: {exc.strerror or exc}.") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"The config file {path} holds API keys but other users can access it "
            f"(mode {stat.filemode(mode)}). Run: chmod 600 {path}"
        )


def _profile_example(path: Path, profile: str) -> str:
    return (
        f"  # {path}\n"
        f'  default = "{profile}"\n'
        f"  [profiles.{profile}]\n"
        f'  url = "https://watch.example.org"\n'
        f'  api_key = "<your API key>"'
    )


def _missing_message(no_url: bool, no_key: bool, path: Path, profile: str | None) -> str:
    missing = " and ".join(
        part for part, absent in (("server URL", no_url), ("API key", no_key)) if absent
    )
    where = f" (profile {profile!r} in {path} does not set it)" if profile else ""
    return (
        f"No Watch {missing} configured{where}. Give it in one of three ways:\n"
        "  1. arguments: url='https://watch.example.org', api_key='...'\n"
        f"  2. environment variables: {ENV_URL} and {ENV_API_KEY}\n"
        f"  3. a profile in the config file {path} (chmod 600), chosen with profile= or "
        f"{ENV_PROFILE}:\n{_profile_example(path, profile or DEFAULT_PROFILE)}"
    )
