"""Async callbacks page: "Running N" at once, "Finished N" 2 s later, clicks run concurrently."""

from __future__ import annotations

import re
import time

from helpers import open_page
from playwright.sync_api import Page, expect

STATUS = re.compile(r"^(Running|Finished) \d+$")


def test_click_reports_running_then_finished(page: Page) -> None:
    open_page(page, "/async_callbacks")
    page.get_by_role("button", name="Click me!").click()
    status = page.get_by_text(STATUS)
    expect(status).to_have_text("Running 1", timeout=1000)
    expect(status).to_have_text("Finished 1", timeout=4000)


def test_three_quick_clicks_run_concurrently(page: Page) -> None:
    open_page(page, "/async_callbacks")
    button = page.get_by_role("button", name="Click me!")
    status = page.get_by_text(STATUS)
    first_click = time.monotonic()
    for n in (1, 2, 3):
        button.click()
        expect(status).to_have_text(f"Running {n}", timeout=1000)
    expect(status).to_have_text("Finished 3", timeout=5000)
    # One after another they would take 3 x 2 s; concurrently the last ends ~2 s after its click.
    assert time.monotonic() - first_click < 4.5
