"""Async callbacks page: "Running N" at once, "Finished N" 2 s later, clicks run concurrently,
a live task list with cancel, and a per-session bound (3 on the test server)."""

from __future__ import annotations

import re

from helpers import open_page, wait_until
from playwright.sync_api import Page, expect

STATUS = re.compile(r"^(Running|Finished|Cancelled) \d+$")
COUNT = re.compile(r"^\d+ tasks? running$")


def click(page: Page, times: int = 1) -> None:
    for _ in range(times):
        page.get_by_role("button", name="Click me!").click()


def test_click_reports_running_then_finished(page: Page) -> None:
    open_page(page, "/async_callbacks")
    click(page)
    status = page.get_by_text(STATUS)
    expect(status).to_have_text("Running 1", timeout=1000)
    expect(status).to_have_text("Finished 1", timeout=4000)


def test_three_quick_clicks_run_concurrently(page: Page) -> None:
    open_page(page, "/async_callbacks")
    status = page.get_by_text(STATUS)
    for n in (1, 2, 3):
        click(page)
        expect(status).to_have_text(f"Running {n}", timeout=1000)
    # All three run at once (one after another, the first would have finished before the
    # third started), then all three finish.
    expect(page.get_by_text(COUNT)).to_have_text("3 tasks running")
    expect(page.locator(".task-row .state")).to_have_text(["running"] * 3)
    expect(status).to_have_text("Finished 3", timeout=5000)
    expect(page.locator(".task-row .state")).to_have_text(["finished"] * 3)


def test_task_list_shows_each_task_and_the_running_count(page: Page) -> None:
    open_page(page, "/async_callbacks")
    expect(page.get_by_text("No tasks yet: click the button.")).to_be_visible()
    click(page, 2)
    rows = page.locator(".task-row")
    expect(rows).to_have_count(2)
    expect(rows.locator(".state")).to_have_text(["running", "running"])
    expect(page.get_by_text(COUNT)).to_have_text("2 tasks running")
    expect(rows.first.locator(".elapsed")).to_have_text(re.compile(r"^[01]\.\d s$"))
    # The server sends the list only when a task starts or ends; the browser counts the
    # seconds of a running task itself.
    first = rows.first.locator(".state, .elapsed")
    wait_until(
        lambda: " ".join(first.all_text_contents()),
        lambda text: re.fullmatch(r"running 1\.\d s", text) is not None,
        timeout=3,
        what="a running task's elapsed time counting up in the browser",
    )
    expect(rows.locator(".state")).to_have_text(["finished", "finished"], timeout=4000)
    expect(rows.first.locator(".elapsed")).to_have_text(re.compile(r"^2\.\d s$"))
    expect(page.get_by_text(COUNT)).to_have_text("0 tasks running")


def test_cancel_a_running_task(page: Page) -> None:
    open_page(page, "/async_callbacks")
    click(page, 2)
    rows = page.locator(".task-row")
    expect(rows).to_have_count(2)
    rows.first.get_by_role("button", name="Cancel").click()
    expect(page.get_by_text(STATUS)).to_have_text("Cancelled 1", timeout=1000)
    expect(rows.first.locator(".state")).to_have_text("cancelled")
    expect(rows.first.get_by_role("button", name="Cancel")).to_be_disabled()
    expect(rows.nth(1).locator(".state")).to_have_text("finished", timeout=4000)


def test_a_click_past_the_bound_starts_nothing(page: Page) -> None:
    open_page(page, "/async_callbacks")
    click(page, 3)
    expect(page.get_by_text(COUNT)).to_have_text("3 tasks running")
    click(page)
    expect(
        page.get_by_text(
            "Click 4 started nothing: 3 tasks are running, the most one session may have."
        )
    ).to_be_visible()
    expect(page.locator(".task-row")).to_have_count(3)
    expect(page.get_by_text(STATUS)).to_have_text("Running 3")
    expect(page.get_by_text(STATUS)).to_have_text("Finished 3", timeout=4000)
    click(page)  # room again
    expect(page.get_by_text(STATUS)).to_have_text("Running 5", timeout=1000)
