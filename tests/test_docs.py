"""The documentation: the site builds with warnings as errors, the API reference covers the
public surface, the README stays a front page, and the code cites only the repository."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from markdown.extensions.toc import slugify

import watch_pandas
from watch_pandas import errors

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_site_builds_with_warnings_as_errors(tmp_path: Path) -> None:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert built.returncode == 0, built.stderr[-4000:]
    api = (tmp_path / "api" / "index.html").read_text(encoding="utf-8")
    assert 'id="watch_pandas.read_watch_query"' in api  # resolved through the lazy __init__


def test_the_api_reference_lists_every_public_name() -> None:
    page = (DOCS / "api.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^::: watch_pandas\.(\w+)$", page, flags=re.M))
    error_names = {n for n in watch_pandas.__all__ if isinstance(getattr(errors, n, None), type)}
    assert "errors" in documented  # the whole error tree, from its module
    assert set(watch_pandas.__all__) - error_names - documented == set()


def _anchors(page: Path) -> set[str]:
    """The heading ids MkDocs gives a page (the same slugify as its toc extension)."""
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    headings = re.findall(r"^#{1,6} (.+)$", text, flags=re.M)
    return {slugify(h.replace("`", ""), "-") for h in headings}


def _code_files() -> list[Path]:
    folders = [ROOT / "watch_pandas", ROOT / "tests", ROOT / "bench"]
    return [p for f in folders for p in f.rglob("*") if p.suffix in (".py", ".c")]


def test_code_cites_only_what_is_in_the_repository() -> None:
    outside = re.compile(r"watch-api|real-server-samples|/work/shared|§\d+\.\d")
    offenders = [
        f"{p.relative_to(ROOT)}:{n}: {line.strip()}"
        for p in _code_files()
        if p.name != "test_docs.py"  # its pattern names what it looks for
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if outside.search(line)
    ]
    assert offenders == []


def _docs_references() -> set[tuple[str, str]]:
    """(page, anchor) for every docs page the code names, with each ``#anchor`` that follows
    it on the same line ("docs/protocol.md#jobs, #results"); anchor "" for the page itself."""
    cited = set()
    for path in _code_files():
        if path.name == "test_docs.py":
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            for m in re.finditer(r"docs/([\w-]+\.md)", line):
                anchors = re.findall(r"#([a-z][\w-]*)", line[m.end() :])
                cited |= {(m.group(1), a) for a in ["", *anchors]}
    return cited


def test_every_docs_reference_in_the_code_resolves() -> None:
    cited = _docs_references()
    assert ("protocol.md", "jobs") in cited  # the protocol notes are what the code cites
    assert ("protocol.md", "value-encoding") in cited  # a second anchor on a line counts
    broken = [
        f"docs/{page}#{anchor}"
        for page, anchor in sorted(cited)
        if not (DOCS / page).exists() or (anchor and anchor not in _anchors(DOCS / page))
    ]
    assert broken == []


def test_readme_is_a_front_page() -> None:
    assert len(README.splitlines()) <= 200
    # The two commands, exactly as CI runs them.
    assert 'pip install -e ".[test]" && watch-pandas demo' in README
    assert "bash .ci/install-browser && python -m pytest" in README
    assert "show_versions()" in README


def test_readme_sends_no_one_to_private_names() -> None:
    assert re.findall(r"watch_pandas\._\w+|\b_rows\b|_scan_rows", README) == []


def test_readme_headings_nest() -> None:
    """Each heading is at most one level below the one before, and no section sits under a
    heading it does not belong to (Parameters and Ad-hoc SQL were under "Read a dashboard")."""
    text = re.sub(r"```.*?```", "", README, flags=re.S)
    headings = re.findall(r"^(#+) (.+)$", text, flags=re.M)
    levels = [len(marks) for marks, _ in headings]
    assert levels[0] == 1
    assert all(b <= a + 1 for a, b in zip(levels, levels[1:], strict=False))
    section = ""
    for marks, title in headings:
        if len(marks) == 2:
            section = title
        elif section == "Read a dashboard":
            assert not re.search("Parameters|SQL", title), title


@pytest.mark.parametrize(
    "link", sorted(set(re.findall(r"\]\(((?:docs/)?[\w./-]+\.md(?:#[\w-]+)?)\)", README)))
)
def test_readme_links_to_pages_and_headings_that_exist(link: str) -> None:
    page, _, anchor = link.partition("#")
    assert (ROOT / page).exists()
    assert not anchor or anchor in _anchors(ROOT / page)
