"""End-to-end fixtures: the app served as `make serve` serves it, and a browser that finds it.

The server is started with `python -m app` (the command behind `make serve`, with its shipped
session settings) on a free port and waited for on /liveness. `--serve-mode threads` serves it
with `--num-threads 2` instead, as the README recommends for blocking callbacks (`make test` runs
the suite in both modes). Every test is checked afterwards for tracebacks in the server log and
for errors in the browser console. Tests marked `own_server` start servers of their own.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Error

from tests.support.browser import launch_args
from tests.support.serving import Served, app_command, free_port, served

# What the test server runs with, beyond the defaults `make serve` uses.
SERVER_ENV = {
    "LOG_LEVEL": "INFO",
    # Small queue bounds, so that a test can fill them with a few clicks.
    "QUEUE_WORKERS": "2",
    "QUEUE_MAX_WAITING": "6",
    "QUEUE_MAX_PER_SESSION": "4",
    # Small bounds on one session's async tasks and waiting stream clicks: four clicks each.
    "ASYNC_MAX_TASKS": "3",
    "STREAM_MAX_PENDING": "3",
    # The blocking demo is on, as under `make serve`, so that its effect can be measured.
    "BLOCKING_DEMO": "1",
    # Every test's browser comes from this one address, faster than any visitor clicks: the
    # per-client limit on new sessions is lifted here (test_security checks it as shipped).
    "CLIENT_SESSION_BURST": "100000",
}
SERVE_MODES = {"default": [], "threads": ["--num-threads", "2"]}


@pytest.fixture(scope="session")
def serve_args(request: pytest.FixtureRequest) -> list[str]:
    return SERVE_MODES[request.config.getoption("--serve-mode")]


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory, serve_args: list[str]) -> Iterator[Served]:
    log_path = tmp_path_factory.mktemp("server") / "server.log"
    with served(app_command(serve_args), free_port(), log_path, SERVER_ENV) as app:
        yield app


@pytest.fixture(scope="session")
def base_url(server: Served) -> str:
    return server.url


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    return {**browser_type_launch_args, **launch_args()}


class ConsoleErrors(list):
    """Errors seen in the browser console of the contexts it watches."""

    def watch(self, context: BrowserContext) -> BrowserContext:
        context.on("console", self._on_console)
        context.on("weberror", lambda error: self.append(f"page error: {error.error}"))
        context.on("requestfailed", self._on_request_failed)
        return context

    def _on_request_failed(self, request) -> None:
        # A request the browser gave up on because the page navigated away is not a failure.
        if request.failure != "net::ERR_ABORTED":
            self.append(f"request failed: {request.url} {request.failure}")

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.append(f"console error: {message.text}")


def assert_clean(log: str) -> None:
    """No traceback, no failed callback, and no model changed without the document lock, in a
    server's log."""
    assert "Traceback" not in log, f"the server logged a traceback:\n{log}"
    assert "callback failed" not in log, f"a callback failed:\n{log}"
    assert "_pending_writes" not in log, f"a Bokeh model was changed without the lock:\n{log}"


@pytest.fixture(autouse=True)
def _clean_run(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a test whose run put a traceback in the shared server's log or an error in the
    console (tests with servers of their own check their own logs)."""
    errors = ConsoleErrors()
    request.node.console_errors = errors
    server = None if request.node.get_closest_marker("own_server") else request.getfixturevalue(
        "server"
    )
    if server is not None:
        server.new_log()
        request.node.shared_server = server
    yield
    if server is not None:
        assert_clean(server.new_log())
    assert not errors, f"errors in the browser console: {errors}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item):
    """A failed test's report shows what the shared server logged during it."""
    report = yield
    server = getattr(item, "shared_server", None)
    if report.when == "call" and report.failed and server is not None:
        report.sections.append(("shared server log during the test", server.unread_log()[-30000:]))
    return report


@pytest.fixture
def context(context: BrowserContext, request: pytest.FixtureRequest) -> BrowserContext:
    return request.node.console_errors.watch(context)


@pytest.fixture
def new_context(browser: Browser, base_url: str, request: pytest.FixtureRequest):
    """Open more browser contexts (other visitors), watched for console errors, closed after."""
    opened: list[BrowserContext] = []

    def make(url: str | None = None) -> BrowserContext:
        ctx = request.node.console_errors.watch(browser.new_context(base_url=url or base_url))
        opened.append(ctx)
        return ctx

    yield make
    for ctx in opened:
        with contextlib.suppress(Error):  # already closed by the test
            ctx.close()
