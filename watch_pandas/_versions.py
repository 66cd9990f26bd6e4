"""``show_versions()``: what a bug report needs, as pandas' ``pd.show_versions()`` gives it.

Versions come from the installed distributions' metadata, so reporting them imports none of
the heavy libraries. The API key is never reported: only whether one is set, and from where.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Literal, overload

from .errors import ConfigError

# The distributions a read depends on, then the optional Jupyter ones.
_DISTRIBUTIONS = (
    "watch-pandas",
    "pandas",
    "pyarrow",
    "requests",
    "urllib3",
    "msgspec",
    "platformdirs",
    "ipython",
    "ipywidgets",
)


@overload
def show_versions(as_dict: Literal[False] = False) -> None: ...
@overload
def show_versions(as_dict: Literal[True]) -> dict[str, str | None]: ...


def show_versions(as_dict: bool = False) -> dict[str, str | None] | None:
    """Print the versions, the compiled row scanner, the configuration and the cache folder.

    With ``as_dict=True`` the same report is returned as a dict instead of printed. The API
    key is never included: only whether one is configured and where it comes from.
    """
    if not isinstance(as_dict, bool):
        raise ConfigError(f"as_dict must be True or False, not {as_dict!r}.")
    info: dict[str, str | None] = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
    }
    info.update({name: _version(name) for name in _DISTRIBUTIONS})
    info["compiled row scanner"] = _scanner()
    info.update(_configuration())
    info.update(_cache())
    if as_dict:
        return info
    width = max(map(len, info))
    print("INSTALLED VERSIONS\n------------------")
    for name, value in info.items():
        print(f"{name:<{width}} : {value}")
    return None


def _version(distribution: str) -> str | None:
    try:
        return version(distribution)
    except PackageNotFoundError:
        return None


def _scanner() -> str:
    # find_spec, not an import: the report must not fail on a scanner that is built but broken.
    built = importlib.util.find_spec("watch_pandas._scan") is not None
    return "built" if built else "not built (reads are slower; a C compiler at install builds it)"


def _configuration() -> dict[str, str | None]:
    from . import _config

    path = _config.config_path()
    info: dict[str, str | None] = {
        "config file": f"{path} ({'exists' if path.exists() else 'does not exist'})",
    }
    try:
        config = _config.resolve_config()
    except ConfigError as exc:  # a report, not a read: say what is wrong and go on
        info["url"] = None
        first_sentence = str(exc).splitlines()[0].split(". ")[0].rstrip(".")
        info["api key"] = f"not configured: {first_sentence}."
        return info
    info["url"] = config.url
    if os.environ.get(_config.ENV_API_KEY, "").strip():
        info["api key"] = f"set (from {_config.ENV_API_KEY})"
    else:
        info["api key"] = f"set (from profile {config.profile!r})"
    return info


def _cache() -> dict[str, str | None]:
    from . import _cache as cache

    try:
        folder = cache.cache_directory()
        offline = "yes" if cache.is_offline() else "no"
    except ConfigError as exc:
        return {"cache folder": None, "cache size": None, "offline": str(exc)}
    files = [p for p in folder.rglob("*") if p.is_file()] if folder.is_dir() else []
    size = sum(_size(p) for p in files)
    plural = "" if len(files) == 1 else "s"
    return {
        "cache folder": str(folder),
        "cache size": f"{size} bytes in {len(files)} file{plural}",
        "offline": offline,
    }


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:  # removed meanwhile (another process pruning the cache)
        return 0
