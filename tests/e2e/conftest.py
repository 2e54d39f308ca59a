"""End-to-end fixtures: the app served as `make serve` serves it, and a browser that finds it.

The server is started with `python -m app` (the command behind `make serve`) on a free port and
waited for on /liveness. Every test is checked afterwards for tracebacks in the server log and
for errors in the browser console.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Error

from benchmarks.harness import Served, app_command, browser_executable, free_port, served

# What the test server runs with, beyond the defaults `make serve` uses.
SERVER_ENV = {
    "LOG_LEVEL": "INFO",
    # Small queue bounds, so that a test can fill them with a few clicks.
    "QUEUE_WORKERS": "2",
    "QUEUE_MAX_WAITING": "6",
    "QUEUE_MAX_PER_SESSION": "4",
    # A small bound on one session's async tasks, reached with four clicks.
    "ASYNC_MAX_TASKS": "3",
    # The blocking demo is on, as under `make serve`, so that its effect can be measured.
    "BLOCKING_DEMO": "1",
}
# Destroy closed sessions within a few seconds instead of Bokeh's 15 to 32 s. The lifetime must
# outlast a page's load (~1 s before its websocket opens), or the session is dropped and re-made
# without its request, and Panel then points its stylesheets at the CDN.
SERVER_ARGS = ["--check-unused-sessions", "500", "--unused-session-lifetime", "3000"]


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    log_path = tmp_path_factory.mktemp("server") / "server.log"
    with served(app_command(SERVER_ARGS), free_port(), log_path, SERVER_ENV) as app:
        yield app


@pytest.fixture(scope="session")
def base_url(server: Served) -> str:
    return server.url


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    path = browser_executable()
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
def _clean_run(request: pytest.FixtureRequest, server: Served) -> Iterator[None]:
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
