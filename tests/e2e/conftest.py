"""End-to-end fixtures: the app served as `make serve` serves it, and a browser that finds it.

The server is started with `python -m app` (the command behind `make serve`) on a free port and
waited for on /liveness. Every test is checked afterwards for tracebacks in the server log and
for errors in the browser console.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Error

ROOT = Path(__file__).resolve().parents[2]

# What the test server runs with, beyond the defaults `make serve` uses.
SERVER_ENV = {
    "LOG_LEVEL": "INFO",
    # Small queue bounds, so that a test can fill them with a few clicks.
    "QUEUE_WORKERS": "2",
    "QUEUE_MAX_WAITING": "6",
    "QUEUE_MAX_PER_SESSION": "4",
}
# Destroy closed sessions within a few seconds instead of Bokeh's 15 to 32 s. The lifetime must
# outlast a page's load (~1 s before its websocket opens), or the session is dropped and re-made
# without its request, and Panel then points its stylesheets at the CDN.
SERVER_ARGS = ["--check-unused-sessions", "500", "--unused-session-lifetime", "3000"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _wait_until_live(url: str, process: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        # Pause before asking again, and notice at once if the server exits.
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=0.1)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


@dataclass
class Server:
    url: str
    pid: int
    log_path: Path
    _offset: int = field(default=0)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def new_log(self) -> str:
        """What the server logged since the last call."""
        text = self.log()
        new, self._offset = text[self._offset :], len(text)
        return new


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    port = _free_port()
    log_path = tmp_path_factory.mktemp("server") / "server.log"
    env = {**os.environ, **SERVER_ENV, "PORT": str(port), "ADDRESS": "localhost"}
    with log_path.open("w") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "app", *SERVER_ARGS],
            cwd=ROOT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    url = f"http://localhost:{port}"
    try:
        _wait_until_live(f"{url}/liveness", process)
        yield Server(url=url, pid=process.pid, log_path=log_path)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def base_url(server: Server) -> str:
    return server.url


def _browser_path() -> str | None:
    """A browser named by CHROMIUM_EXECUTABLE, else a system Chromium, else Playwright's own."""
    named = os.environ.get("CHROMIUM_EXECUTABLE")
    if named:
        return named
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    path = _browser_path()
    return {**browser_type_launch_args, **({"executable_path": path} if path else {})}


class ConsoleErrors(list):
    """Errors seen in the browser console of the contexts it watches."""

    def watch(self, context: BrowserContext) -> BrowserContext:
        context.on("console", self._on_console)
        context.on("weberror", lambda error: self.append(f"page error: {error.error}"))
        context.on("requestfailed", lambda r: self.append(f"request failed: {r.url} {r.failure}"))
        return context

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.append(f"console error: {message.text}")


@pytest.fixture(autouse=True)
def _clean_run(request: pytest.FixtureRequest, server: Server) -> Iterator[None]:
    """Fail a test whose run put a traceback in the server log or an error in the console."""
    server.new_log()
    errors = ConsoleErrors()
    request.node.console_errors = errors
    yield
    log = server.new_log()
    assert "Traceback" not in log, f"the server logged a traceback:\n{log}"
    assert "_pending_writes" not in log, f"a Bokeh model was changed without the lock:\n{log}"
    assert not errors, f"errors in the browser console: {errors}"


@pytest.fixture
def context(context: BrowserContext, request: pytest.FixtureRequest) -> BrowserContext:
    return request.node.console_errors.watch(context)


@pytest.fixture
def new_context(browser: Browser, base_url: str, request: pytest.FixtureRequest):
    """Open more browser contexts (other visitors), watched for console errors, closed after."""
    opened: list[BrowserContext] = []

    def make() -> BrowserContext:
        ctx = request.node.console_errors.watch(browser.new_context(base_url=base_url))
        opened.append(ctx)
        return ctx

    yield make
    for ctx in opened:
        with contextlib.suppress(Error):  # already closed by the test
            ctx.close()
