"""The browser test's moving parts and fixtures: Watch server, JupyterLab, Chromium, notebook.

``JupyterLab`` runs ``jupyter lab`` from this interpreter as a subprocess on 127.0.0.1 with a
random token, in a private Jupyter home (its own kernelspec, settings and runtime folders) so
nothing on the machine leaks in. ``launch_chromium`` starts ``/usr/bin/chromium`` through
Playwright (never a downloaded browser) and fails with what to install when it cannot.

The fixtures are module-scoped: one server, one JupyterLab, one browser and one run of the
notebook serve every test of ``test_jupyterlab.py``. Screenshots go to ``artifacts/browser/``
(gitignored).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from watch_pandas.testing import LocalWatch

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "notebooks" / "browser_check.ipynb"
ARTIFACTS = REPO / "artifacts" / "browser"
UI_TIMEOUT_MS = 60_000

CHROMIUM = Path(os.environ.get("WATCH_BROWSER_CHROMIUM", "/usr/bin/chromium"))
INSTALL_HINT = "Install it with: sudo bash .ci/install-browser (Debian's chromium package)."
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-proxy-server",
]
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}
STARTUP_TIMEOUT = 90.0

# No news, update or extension-index fetches (no network; no toasts over the screenshots).
_LAB_CONFIG = {
    "LabApp": {
        "news_url": None,
        "check_for_updates_class": "jupyterlab.NeverCheckForUpdate",
        "extension_manager": "readonly",
    }
}
_LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class JupyterLab:
    """``jupyter lab`` on 127.0.0.1 serving ``root_dir``; ``env`` is added to its environment.

    The kernels it starts run on this interpreter and inherit ``env`` (so Watch settings reach
    them without ever being written into a notebook). ``url_for(path)`` is the page to open.
    """

    def __init__(self, root_dir: Path, home: Path, env: dict[str, str]) -> None:
        self.root_dir = root_dir
        self.home = home
        self.token = secrets.token_hex(16)
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = home / "jupyterlab.log"
        self._env = env
        self._process: subprocess.Popen[bytes] | None = None
        self._log: Any = None

    def _environment(self) -> dict[str, str]:
        home = self.home
        data_dir = home / "data"
        kernel_dir = data_dir / "kernels" / "python3"
        kernel_dir.mkdir(parents=True, exist_ok=True)
        kernel_spec = {
            "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Python 3",
            "language": "python",
        }
        (kernel_dir / "kernel.json").write_text(json.dumps(kernel_spec), encoding="utf-8")
        settings_dir = home / "lab-settings"
        for name, values in _LAB_SETTINGS.items():
            path = settings_dir / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values), encoding="utf-8")
        config_dir = home / "config"
        config_dir.mkdir(parents=True, exist_ok=True)
        for name in ("jupyter_server_config.json", "jupyter_lab_config.json"):
            (config_dir / name).write_text(json.dumps(_LAB_CONFIG), encoding="utf-8")
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("JUPYTER", "WATCH_", "IPYTHON"))
        }
        env.update(
            HOME=str(home),
            JUPYTER_CONFIG_DIR=str(config_dir),
            JUPYTER_DATA_DIR=str(data_dir),
            JUPYTER_RUNTIME_DIR=str(home / "runtime"),
            JUPYTERLAB_SETTINGS_DIR=str(settings_dir),
            JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"),
            IPYTHONDIR=str(home / "ipython"),
            NO_PROXY="127.0.0.1,localhost",
            no_proxy="127.0.0.1,localhost",
        )
        env.update(self._env)
        return env

    def start(self) -> JupyterLab:
        """Start the server and wait until ``/api/status`` answers (fail with its log if not)."""
        command = [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root_dir}",
            "--ServerApp.terminals_enabled=False",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.append("--allow-root")  # CI runs as root
        self._log = self.log_path.open("wb")
        self._process = subprocess.Popen(
            command,
            cwd=self.root_dir,
            env=self._environment(),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                pytest.fail(f"jupyter lab exited with {self._process.returncode}:\n{self.log()}")
            try:
                response = requests.get(
                    f"{self.base_url}/api/status",
                    headers={"Authorization": f"token {self.token}"},
                    timeout=2,
                )
            except requests.ConnectionError:
                time.sleep(0.2)
                continue
            if response.status_code == 200:
                return self
            time.sleep(0.2)
        self.stop()
        pytest.fail(
            f"jupyter lab did not answer /api/status in {STARTUP_TIMEOUT:.0f} s:\n{self.log()}"
        )

    def url_for(self, notebook: str) -> str:
        return f"{self.base_url}/lab/tree/{notebook}?token={self.token}"

    def log(self, tail: int = 4000) -> str:
        """The end of the server's log (for failure messages)."""
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-tail:]
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        """Stop the server (and with it the kernels it started)."""
        process = self._process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        if self._log is not None:
            self._log.close()
            self._log = None


def launch_chromium(
    playwright: Any, profile_dir: Path, executable: Path = CHROMIUM, **options: Any
) -> Any:
    """A persistent Chromium context on Debian's binary, or a test failure saying what to do."""
    if not executable.exists():
        pytest.fail(f"No Chromium at {executable}: the browser test needs it. {INSTALL_HINT}")
    try:
        context = playwright.chromium.launch_persistent_context(
            str(profile_dir),
            executable_path=str(executable),
            headless=True,
            args=CHROMIUM_ARGS,
            **options,
        )
    except Exception as exc:  # playwright's Error: the binary would not start
        pytest.fail(f"Chromium at {executable} did not start: {exc}\n{INSTALL_HINT}")
    context.route("**/*", _loopback_only)
    return context


def _loopback_only(route: Any) -> None:
    """Let the page reach 127.0.0.1 only; anything else is aborted, never sent."""
    host = urlsplit(route.request.url).hostname or ""
    if route.request.url.startswith(("data:", "blob:")) or host in LOOPBACK_HOSTS:
        route.continue_()
    else:
        route.abort()


def copy_notebook(source: Path, root_dir: Path) -> Path:
    """Copy a committed notebook into the server's root folder; returns the copy."""
    root_dir.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy2(source, root_dir / source.name))


# -- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The checkout's top folder."""
    return REPO


@pytest.fixture(scope="module")
def artifacts() -> Path:
    """The folder for screenshots and logs of this run."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="module")
def watch_server() -> Iterator[LocalWatch]:
    """The local Watch server with the demo content, in this process (so tests can steer it)."""
    with LocalWatch(demo=True) as lw:
        yield lw


@pytest.fixture(scope="module")
def lab(
    watch_server: LocalWatch, tmp_path_factory: pytest.TempPathFactory, artifacts: Path
) -> Iterator[JupyterLab]:
    """JupyterLab serving a copy of the notebook; its kernels get the Watch URL and key."""
    base = tmp_path_factory.mktemp("jupyterlab")
    root, home = base / "notebooks", base / "home"
    home.mkdir()
    copy_notebook(NOTEBOOK, root)
    env = {
        "WATCH_URL": watch_server.url,
        "WATCH_API_KEY": watch_server.admin_key,
        "WATCH_DEMO_QUERIES": json.dumps(watch_server.demo.queries),
        "WATCH_CONFIG": str(home / "absent-config.toml"),
        # the kernel runs in a copy's folder: import this checkout's package, not an installed one
        "PYTHONPATH": os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]),
    }
    server = JupyterLab(root, home, env).start()
    try:
        yield server
    finally:
        server.stop()
        (artifacts / "jupyterlab.log").write_text(server.log(tail=200_000), encoding="utf-8")


@pytest.fixture(scope="module")
def playwright() -> Iterator[Any]:
    """Playwright's driver (sync API); a clear failure when the package is missing."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("The browser test needs Playwright for Python: pip install playwright")
    driver = sync_playwright().start()
    try:
        yield driver
    finally:
        driver.stop()


@pytest.fixture(scope="module")
def browser(playwright: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A headless Chromium context (Debian's binary, fresh profile, loopback only)."""
    context = launch_chromium(
        playwright,
        tmp_path_factory.mktemp("chromium-profile"),
        viewport={"width": 1280, "height": 1000},
    )
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def chromium_launcher() -> Any:
    """``launch_chromium`` itself, for the tests of its failure messages."""
    return launch_chromium


@contextmanager
def _after_run_all(
    browser: Any,
    lab: JupyterLab,
    artifacts: Path,
    notebook: str,
    ready: Callable[[Any], None],
    name: str,
) -> Iterator[Any]:
    """``notebook`` open in JupyterLab after the user ran all cells from the Run menu and
    ``ready(page)`` saw their output; screenshots ``<name>-not-run.png`` if that never came,
    ``<name>-final.png`` at the end."""
    page = browser.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    page.goto(lab.url_for(notebook))
    page.locator(".jp-Notebook").wait_for()
    # Run All is dropped while the kernel still starts: wait until the status bar says Idle.
    page.get_by_text(re.compile(r"^Python 3 \(ipykernel\) \| Idle$")).wait_for()
    try:
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        ready(page)
        page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for()
    except Exception:
        page.screenshot(path=str(artifacts / f"{name}-not-run.png"), full_page=True)
        raise
    try:
        yield page
    finally:
        page.screenshot(path=str(artifacts / f"{name}-final.png"), full_page=True)
        page.close()


@pytest.fixture(scope="module")
def after_run_all(browser: Any, lab: JupyterLab, artifacts: Path) -> Callable[..., Any]:
    """``after_run_all(notebook, ready, name)``: a notebook's page after Run All Cells (a
    context manager; see :func:`_after_run_all`)."""

    def open_page(notebook: str, ready: Callable[[Any], None], name: str) -> Any:
        return _after_run_all(browser, lab, artifacts, notebook, ready, name)

    return open_page


@pytest.fixture(scope="module")
def notebook_page(after_run_all: Callable[..., Any]) -> Iterator[Any]:
    """The notebook open in JupyterLab, after the user ran all cells from the Run menu."""

    def ready(page: Any) -> None:
        # The last cell's picker is drawn once every cell has run (off screen: attached).
        last = page.locator(".jp-OutputArea-output .widget-vbox", has_text="param datetime seconds")
        last.wait_for(state="attached")

    with after_run_all(NOTEBOOK.name, ready, "notebook") as page:
        yield page
