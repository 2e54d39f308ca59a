"""The browser the tests, the smoke run and the benchmarks drive, and how a page is opened."""

from __future__ import annotations

import os
import shutil

from playwright.sync_api import Browser, Page, Playwright

# True once Panel has rendered the page into a Bokeh document.
DOCUMENT_READY = "() => window.Bokeh && window.Bokeh.documents.length > 0"


def browser_executable() -> str | None:
    """A browser named by CHROMIUM_EXECUTABLE, else a system Chromium, else None (Playwright's
    own)."""
    named = os.environ.get("CHROMIUM_EXECUTABLE")
    if named:
        return named
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def launch_args() -> dict:
    """Playwright launch arguments for that browser."""
    path = browser_executable()
    return {"executable_path": path} if path else {}


def launch(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(**launch_args())


def open_page(page: Page, path: str) -> Page:
    """Go to an app page and wait until Panel has rendered it into the Bokeh document."""
    page.goto(path)
    page.wait_for_function(DOCUMENT_READY)
    return page
