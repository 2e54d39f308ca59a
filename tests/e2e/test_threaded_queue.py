"""Threaded queue page: the seed's texts, a live table of this session's jobs with positions,
progress and cancel, the shared pool's bounds, isolation between sessions, and no thread or job
that outlives its session. The test server runs 2 workers, at most 6 waiting jobs and 4 per
session (see conftest.SERVER_ENV)."""

from __future__ import annotations

import re

import psutil
import pytest
from helpers import open_page, screenshot, wait_for_value
from playwright.sync_api import Locator, Page, expect

from app.core.work import WORK_KINDS

STATUS = re.compile(r"^(Queue empty|Processing item .*|Item \d+ of \d+ .*waiting.*)$")
POOL = re.compile(r"^Shared pool: ")
IDLE_POOL = re.compile(r"^Shared pool: 0 of 2 workers busy · 0 of 6 jobs waiting")
PROCESSING_1_OF_1 = "Processing item 1 of 1 items in queue."


def launch(page: Page, times: int = 1) -> None:
    for _ in range(times):
        page.get_by_role("button", name="Click to launch").click()


def queue_page(page: Page) -> Page:
    """Open the queue page once the shared pool is idle (earlier tests' jobs have ended)."""
    open_page(page, "/threaded_queue")
    expect(page.get_by_text(POOL)).to_have_text(IDLE_POOL, timeout=10000)
    return page


def rows(page: Page) -> Locator:
    return page.locator(".job-row")


def cell(row: Locator, name: str) -> Locator:
    return row.locator(f".{name}")


def progress_of(row: Locator) -> float:
    return row.locator("progress").evaluate("el => el.value")


def cancel_all(page: Page) -> None:
    button = page.get_by_role("button", name="Cancel all")
    if button.is_enabled():
        button.click()
    expect(page.get_by_text(STATUS)).to_have_text("Queue empty")


def test_item_is_processed_then_queue_empty(page: Page) -> None:
    queue_page(page)
    status = page.get_by_text(STATUS)
    expect(status).to_have_text("Queue empty")
    launch(page)
    expect(status).to_have_text(PROCESSING_1_OF_1, timeout=1000)
    expect(cell(rows(page).first, "state")).to_have_text("running")
    expect(status).to_have_text("Queue empty", timeout=4000)
    expect(cell(rows(page).first, "state")).to_have_text("done")
    # Only a failed job has something to say under its state.
    expect(rows(page).first.locator(".why")).to_be_hidden()


def test_more_items_extend_the_batch(page: Page) -> None:
    queue_page(page)
    status = page.get_by_text(STATUS)
    launch(page, 3)
    # Two workers take items 1 and 2 at once; item 3 follows when one is free.
    expect(status).to_have_text("Processing item 1 of 3 items in queue.", timeout=1000)
    expect(status).to_have_text("Processing item 3 of 3 items in queue.", timeout=4000)
    expect(status).to_have_text("Queue empty", timeout=4000)
    expect(cell(rows(page), "state")).to_have_text(["done", "done", "done"])


def test_position_and_progress_are_shown_and_advance(
    page: Page, request: pytest.FixtureRequest
) -> None:
    queue_page(page)
    launch(page, 3)
    first, third = rows(page).nth(0), rows(page).nth(2)
    expect(cell(third, "state")).to_have_text("queued")
    expect(cell(third, "position")).to_have_text("1")
    expect(cell(first, "state")).to_have_text("running")
    page.wait_for_function("el => el.value >= 20", arg=first.locator("progress").element_handle())
    seen = progress_of(first)
    page.wait_for_function(
        f"el => el.value > {seen}", arg=first.locator("progress").element_handle()
    )
    expect(cell(first, "elapsed")).to_have_text(re.compile(r"^\d+\.\d s$"))
    screenshot(page, request, "threaded_queue_jobs", full_page=True)
    # When a worker frees up, the waiting item runs; it had a position, now it has progress.
    expect(cell(third, "state")).to_have_text("running", timeout=4000)
    expect(cell(third, "position")).to_have_text("—")
    expect(cell(third, "eta")).to_have_text(re.compile(r"^\d+\.\d s$"))
    expect(cell(third, "state")).to_have_text("done", timeout=4000)
    assert progress_of(third) == 100


def test_cancel_a_queued_and_a_running_job(page: Page) -> None:
    queue_page(page)
    launch(page, 3)
    first, second, third = (rows(page).nth(i) for i in range(3))
    expect(cell(third, "state")).to_have_text("queued")
    third.get_by_role("button", name="Cancel").click()
    expect(cell(third, "state")).to_have_text("cancelled", timeout=1000)
    expect(cell(first, "state")).to_have_text("running")
    first.get_by_role("button", name="Cancel").click()
    expect(cell(first, "state")).to_have_text("cancelled", timeout=1000)
    expect(first.get_by_role("button", name="Cancel")).to_be_disabled()
    # The other job is untouched and finishes.
    expect(cell(second, "state")).to_have_text("done", timeout=4000)
    expect(page.get_by_text(STATUS)).to_have_text("Queue empty")


def test_failing_item_is_reported_and_the_worker_carries_on(page: Page) -> None:
    queue_page(page)
    status = page.get_by_text(STATUS)
    page.get_by_role("button", name=WORK_KINDS["fail"].label).click()
    launch(page)
    expect(page.get_by_text("Item 1 failed: ItemFailed: this item fails on purpose")).to_be_visible(
        timeout=4000
    )
    expect(cell(rows(page).first, "state")).to_have_text("failed")
    expect(rows(page).first.locator(".why")).to_have_text(
        "ItemFailed: this item fails on purpose"
    )
    expect(status).to_have_text("Queue empty")
    page.get_by_role("button", name=WORK_KINDS["io"].label).click()
    launch(page)
    expect(status).to_have_text(PROCESSING_1_OF_1, timeout=1000)
    expect(status).to_have_text("Queue empty", timeout=4000)


def test_compute_item_runs_on_a_worker(page: Page) -> None:
    queue_page(page)
    page.get_by_role("button", name=WORK_KINDS["compute"].label).click()
    launch(page)
    expect(page.get_by_text(STATUS)).to_have_text(PROCESSING_1_OF_1, timeout=1000)
    expect(cell(rows(page).first, "state")).to_have_text("done", timeout=5000)


def test_bounds_give_clear_messages_and_lose_nothing(page: Page, new_context) -> None:
    queue_page(page)
    other = open_page(new_context().new_page(), "/threaded_queue")
    third = open_page(new_context().new_page(), "/threaded_queue")
    # Within one item's 2 s: two run and two wait for this session (its bound), four more
    # wait for the other (six of six waiting), and the third visitor finds the queue full.
    launch(page, 5)
    launch(other, 4)
    launch(third)
    expect(third.get_by_text("Queue full: 6 of 6 jobs waiting, try again shortly")).to_be_visible()
    expect(
        page.get_by_text(
            "You have 4 unfinished jobs (waiting or running), the most one session may have"
        )
    ).to_be_visible()
    expect(rows(page)).to_have_count(4)
    expect(rows(other)).to_have_count(4)
    expect(rows(third)).to_have_count(0)
    expect(third.get_by_text(STATUS)).to_have_text("Queue empty")
    cancel_all(other)
    cancel_all(page)
    # Every accepted job ends in a final state (the first two may have finished meanwhile).
    ended = re.compile(r"^(done|cancelled)$")
    expect(cell(rows(page), "state")).to_have_text([ended, ended, "cancelled", "cancelled"])
    expect(cell(rows(other), "state")).to_have_text([ended] * 4)
    # Once a session's queue has drained, its refusal is old news and goes.
    expect(page.get_by_text(re.compile(r"^You have 4 unfinished jobs"))).to_be_hidden()


def test_sessions_share_the_pool_but_not_their_jobs(page: Page, new_context) -> None:
    queue_page(page)
    other = open_page(new_context().new_page(), "/threaded_queue")
    launch(page, 2)
    expect(page.get_by_text(STATUS)).to_have_text(
        "Processing item 1 of 2 items in queue.", timeout=1000
    )
    # The other visitor sees the shared pool at work, but none of this session's items.
    expect(other.get_by_text(POOL)).to_contain_text("2 of 2 workers busy")
    expect(other.get_by_text(STATUS)).to_have_text("Queue empty")
    expect(rows(other)).to_have_count(0)
    launch(other)
    expect(other.get_by_text(STATUS)).to_have_text(
        re.compile(r"^Item 1 of 1 items in queue is waiting .*position 1")
    )
    expect(rows(other)).to_have_count(1)
    expect(rows(page)).to_have_count(2)
    expect(other.get_by_text(STATUS)).to_have_text(PROCESSING_1_OF_1, timeout=4000)
    expect(other.get_by_text(STATUS)).to_have_text("Queue empty", timeout=4000)


def _cancelled_count(page: Page) -> int:
    text = page.get_by_text(POOL).inner_text()
    return int(re.search(r"(\d+) cancelled", text).group(1))


def test_closing_a_tab_cancels_its_jobs(page: Page, new_context) -> None:
    queue_page(page)
    other = open_page(new_context().new_page(), "/threaded_queue")
    before = _cancelled_count(page)
    # This session keeps both workers busy for about 4 s, so the other tab's four jobs wait
    # behind it and could not all end before about 8 s.
    launch(page, 4)
    launch(other, 4)
    expect(page.get_by_text(POOL)).to_contain_text("2 of 2 workers busy · 6 of 6 jobs waiting")
    other.context.close()
    # Seen from this session: the closed tab's four jobs end as cancelled when its session is
    # destroyed (a few seconds after the tab closes), none of them as done.
    expect(page.get_by_text(POOL)).to_contain_text(f"{before + 4} cancelled", timeout=7000)
    expect(page.get_by_text(STATUS)).to_have_text("Queue empty", timeout=5000)
    expect(cell(rows(page), "state")).to_have_text(["done"] * 4)
    expect(page.get_by_text(POOL)).to_have_text(IDLE_POOL)


def test_no_thread_outlives_its_session(page: Page, new_context, server) -> None:
    process = psutil.Process(server.pid)
    queue_page(page)  # the shared pool exists from here on
    page.context.close()
    baseline = process.num_threads()
    visitors = [open_page(new_context().new_page(), "/threaded_queue") for _ in range(3)]
    for visitor in visitors:
        launch(visitor, 2)
    for visitor in visitors:
        expect(visitor.get_by_text(STATUS)).not_to_have_text("Queue empty")
    for visitor in visitors:
        visitor.context.close()
    # Sessions are destroyed a few seconds after their websocket closes (see SERVER_ARGS).
    assert wait_for_value(process.num_threads, baseline, timeout=15) == baseline
