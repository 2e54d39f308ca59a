"""Threaded queue page: the seed's texts, per-session isolation, errors reported, no leaked
threads."""

from __future__ import annotations

import re

import psutil
from helpers import eventually, open_page
from playwright.sync_api import Page, expect

from app.core.work import WORK_KINDS

STATUS = re.compile(r"^(Queue empty|Processing item .*|Item \d+ of \d+ .*waiting.*)$")


def _launch(page: Page) -> None:
    page.get_by_role("button", name="Click to launch").click()


def test_item_is_processed_then_queue_empty(page: Page) -> None:
    open_page(page, "/threaded_queue")
    status = page.get_by_text(STATUS)
    expect(status).to_have_text("Queue empty")
    _launch(page)
    expect(status).to_have_text("Processing item 1 of 1 items in queue.", timeout=1000)
    expect(status).to_have_text("Queue empty", timeout=4000)


def test_more_items_extend_the_batch(page: Page) -> None:
    open_page(page, "/threaded_queue")
    status = page.get_by_text(STATUS)
    for _ in range(3):
        _launch(page)
    # Two workers take items 1 and 2 at once; item 3 follows when one is free.
    expect(status).to_have_text("Processing item 1 of 3 items in queue.", timeout=1000)
    expect(status).to_have_text("Processing item 3 of 3 items in queue.", timeout=4000)
    expect(status).to_have_text("Queue empty", timeout=4000)


def test_failing_item_is_reported_and_the_worker_carries_on(page: Page) -> None:
    open_page(page, "/threaded_queue")
    status = page.get_by_text(STATUS)
    page.get_by_role("button", name=WORK_KINDS["fail"].label).click()
    _launch(page)
    expect(page.get_by_text("Item 1 failed: ItemFailed: this item fails on purpose")).to_be_visible(
        timeout=4000
    )
    expect(status).to_have_text("Queue empty")
    page.get_by_role("button", name=WORK_KINDS["io"].label).click()
    _launch(page)
    expect(status).to_have_text("Processing item 1 of 1 items in queue.", timeout=1000)
    expect(status).to_have_text("Queue empty", timeout=4000)


def test_sessions_are_isolated(page: Page, new_context) -> None:
    open_page(page, "/threaded_queue")
    other = open_page(new_context().new_page(), "/threaded_queue")
    _launch(page)
    expect(page.get_by_text(STATUS)).to_have_text(
        "Processing item 1 of 1 items in queue.", timeout=1000
    )
    # The other visitor sees the shared pool at work, but none of this session's items.
    expect(other.get_by_text(re.compile(r"^Shared pool: 1 of 2 workers busy"))).to_be_visible()
    expect(other.get_by_text(STATUS)).to_have_text("Queue empty")
    expect(page.get_by_text(STATUS)).to_have_text("Queue empty", timeout=4000)


def test_no_thread_outlives_its_session(page: Page, new_context, server) -> None:
    process = psutil.Process(server.pid)
    open_page(page, "/threaded_queue")  # the shared pool exists from here on
    page.context.close()
    baseline = process.num_threads()
    visitors = [open_page(new_context().new_page(), "/threaded_queue") for _ in range(4)]
    for visitor in visitors:
        _launch(visitor)
        _launch(visitor)
    for visitor in visitors:
        expect(visitor.get_by_text(STATUS)).not_to_have_text("Queue empty")
    for visitor in visitors:
        visitor.context.close()
    # Sessions are destroyed a few seconds after their websocket closes (see SERVER_ARGS).
    assert eventually(process.num_threads, baseline, timeout=15) == baseline
