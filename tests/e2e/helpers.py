"""Helpers for the end-to-end tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from playwright.sync_api import Page

T = TypeVar("T")

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def open_page(page: Page, path: str) -> Page:
    """Go to an app page and wait until Panel has rendered it into the Bokeh document."""
    page.goto(path)
    page.wait_for_function("() => window.Bokeh && window.Bokeh.documents.length > 0")
    return page


def eventually(read: Callable[[], T], expected: T, timeout: float = 10.0) -> T:
    """Read a value from outside the page (say, the server process) until it equals `expected`,
    for at most `timeout` seconds; return the last value read."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    value = read()
    while value != expected and time.monotonic() < deadline:
        pause.wait(0.1)
        value = read()
    return value
