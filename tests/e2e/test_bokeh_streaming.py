"""Bokeh streaming page: each click appends exactly 5 points, 1 s later, continuing x by +1."""

from __future__ import annotations

import time

from helpers import open_page
from playwright.sync_api import Page, expect

from app.components.stream_plot import SOURCE_NAME

READ_X = f"""() => Array.from(
    window.Bokeh.documents[0].get_model_by_name({SOURCE_NAME!r}).data.x)"""


def _wait_for_length(page: Page, n: int) -> None:
    page.wait_for_function(f"() => ({READ_X})().length === {n}", timeout=5000)


def test_each_click_appends_five_points(page: Page) -> None:
    open_page(page, "/bokeh_streaming")
    assert page.evaluate(READ_X) == [0]
    button = page.get_by_role("button", name="Click me!")
    button.click()
    _wait_for_length(page, 6)
    assert page.evaluate(READ_X) == [0, 1, 2, 3, 4, 5]
    button.click()
    button.click()
    _wait_for_length(page, 16)
    assert page.evaluate(READ_X) == list(range(16))
    expect(button).to_be_enabled()


def test_points_arrive_after_the_delay_not_at_once(page: Page) -> None:
    open_page(page, "/bokeh_streaming")
    clicked = time.monotonic()
    page.get_by_role("button", name="Click me!").click()
    _wait_for_length(page, 6)
    assert time.monotonic() - clicked >= 0.95  # the callback awaits 1 s before streaming
