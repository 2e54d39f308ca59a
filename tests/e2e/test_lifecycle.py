"""The server's life as a visitor sees it: a closed tab's work ends within seconds, SIGTERM lets
the final states reach open pages, a killed server leaves pages that say so and come back, and
`--num-procs` and `--dev` run one runtime per process. These tests start servers of their own
(with the settings `make serve` ships), except the first, which uses the shared one."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import SERVER_ENV, assert_clean
from helpers import open_page, wait_until
from playwright.sync_api import Browser, Page, expect

from tests.support.serving import ROOT, Served, app_command, free_port, start, stop

NOTICE = re.compile(r"^Connection to the server lost")
IDLE_POOL = re.compile(r"^Shared pool: 0 of \d workers busy · 0 of \d+ jobs waiting")


@pytest.mark.own_server
def test_a_closed_tabs_tasks_end_within_seconds_of_its_websocket_closing(
    browser: Browser, tmp_path: Path
) -> None:
    # Tasks of 10 s, which cannot end on their own within the wait below; the session
    # settings are the shipped ones (no test-only flags).
    with app_server(tmp_path, env={"ASYNC_TASK_SECONDS": "10"}) as server:
        page = open_page(browser.new_context(base_url=server.url).new_page(), "/async_callbacks")
        for _ in range(2):
            page.get_by_role("button", name="Click me!").click()
        running = page.get_by_text(re.compile(r"^\d tasks? running$"))
        expect(running).to_have_text("2 tasks running")
        server.new_log()
        page.context.close()
        seen: list[str] = []
        wait_until(lambda: seen.append(server.new_log()) or "".join(seen),
                   lambda log: "2 async tasks cancelled" in log, timeout=8,
                   what="the closed tab's tasks cancelled")  # fmt: skip
        assert "ends: its websocket closed" in "".join(seen)


@contextlib.contextmanager
def app_server(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None, port: int | None = None,
    cwd: Path | None = None,
) -> Iterator[Served]:
    port = port or free_port()
    server = start(app_command(list(args)), port, tmp_path / f"server-{port}.log",
                   {**SERVER_ENV, **(env or {})}, cwd=cwd)  # fmt: skip
    try:
        yield server
    finally:
        stop(server)


def queue_page(browser: Browser, url: str) -> Page:
    page = open_page(browser.new_context(base_url=url).new_page(), "/threaded_queue")
    expect(page.get_by_text(IDLE_POOL)).to_be_visible()
    return page


def launch(page: Page, times: int) -> None:
    for _ in range(times):
        page.get_by_role("button", name="Click to launch").click()


@pytest.mark.own_server
def test_sigterm_lets_the_final_states_reach_the_page_which_then_offers_a_reload(
    browser: Browser, tmp_path: Path
) -> None:
    port = free_port()
    env = {"QUEUE_ITEM_SECONDS": "30", "QUEUE_WORKERS": "1", "SHUTDOWN_GRACE_SECONDS": "0.5"}
    with app_server(tmp_path, env=env, port=port) as server:
        page = queue_page(browser, server.url)
        launch(page, 2)
        states = page.locator(".job-row .state")
        expect(states).to_have_text(["running", "queued"])
        assert stop(server) == 0  # SIGTERM: a clean exit
        assert_clean(server.log())
    # Both jobs ended, and the page was told before the connection closed.
    expect(states).to_have_text(["cancelled", "cancelled"])
    expect(page.locator(".job-row .why")).to_have_text(["the server shut down"] * 2)
    notice = page.locator("[role=alert].connection-notice")
    expect(notice).to_have_text(NOTICE)
    with app_server(tmp_path, port=port):
        expect(notice).to_contain_text("The server is back", timeout=20000)
        notice.get_by_role("button", name="Reload").click()
        expect(page.get_by_text("No jobs yet: choose a kind and click to launch.")).to_be_visible()
        expect(notice).to_be_hidden()


@pytest.mark.own_server
def test_a_killed_server_leaves_pages_that_say_so_with_their_clocks_stopped(
    browser: Browser, tmp_path: Path
) -> None:
    env = {"QUEUE_ITEM_SECONDS": "30", "QUEUE_WORKERS": "1"}
    with app_server(tmp_path, env=env) as server:
        page = queue_page(browser, server.url)
        launch(page, 2)
        rows = page.locator(".job-row")
        expect(rows.locator(".state")).to_have_text(["running", "queued"])
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait()
        expect(page.locator("[role=alert].connection-notice")).to_have_text(NOTICE)
        expect(rows.locator(".state")).to_have_text(["lost", "lost"])
        expect(rows.first.locator(".why")).to_have_text(
            "the connection to the server was lost before it ended"
        )
        expect(rows.first.get_by_role("button", name="Cancel")).to_be_disabled()
        # The running job's clock stopped: it reads the same a while later (it ticks every
        # 100 ms while it runs).
        elapsed = rows.first.locator(".elapsed").text_content()
        page.wait_for_timeout(500)
        assert rows.first.locator(".elapsed").text_content() == elapsed


@pytest.mark.own_server
def test_with_num_procs_every_process_serves_pages_and_runs_jobs(
    browser: Browser, tmp_path: Path
) -> None:
    env = {"QUEUE_ITEM_SECONDS": "0.2"}
    pids: set[str] = set()
    with app_server(tmp_path, "--num-procs", "2", env=env) as server:
        for _ in range(40):
            page = queue_page(browser, server.url)
            launch(page, 1)
            expect(page.locator(".job-row .state")).to_have_text(["done"])
            ran_on = page.locator(".job-row .where").text_content()
            pids.add(re.match(r"^pid (\d+), thread \d$", ran_on).group(1))
            page.context.close()
            if len(pids) == 2:
                break
        assert len(pids) == 2, pids
        assert_clean(server.log())


@pytest.mark.own_server
def test_an_edit_under_dev_reloads_the_page_but_adds_no_runtime(
    browser: Browser, tmp_path: Path
) -> None:
    copy = tmp_path / "project"
    shutil.copytree(ROOT / "app", copy / "app", ignore=shutil.ignore_patterns("__pycache__"))
    with app_server(tmp_path, "--dev", cwd=copy) as server:
        page = open_page(browser.new_context(base_url=server.url).new_page(), "/")
        health = page.request.get("/health").json()
        threads = health["threads"]
        home = copy / "app" / "components" / "home.py"
        edited = home.read_text().replace("Staying responsive", "Staying responsive (edited)")
        home.write_text(edited)
        # Panel re-imports the edited module and reloads the open page.
        expect(page.get_by_role("heading", name=re.compile(r"\(edited\)"))).to_be_visible(
            timeout=20000
        )
        after = wait_until(
            lambda: page.request.get("/health").json(),
            lambda h: h["threads"] == threads and h["sessions"] == 1,
            timeout=20, what="threads back to their count and one live session",
        )  # fmt: skip
        assert (after["workers_total"], after["workers_alive"]) == (2, 2)
        log = server.log()
        assert log.count("runtime started") == 1 and log.count("thread backend started") == 1
        assert_clean(log)
