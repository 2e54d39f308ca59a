"""Helpers for the end-to-end tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page

from tests.support.browser import open_page
from tests.support.waiting import wait_for_value, wait_until

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"

__all__ = ["open_page", "screenshot", "wait_for_value", "wait_until"]


def screenshot(page: Page, request: pytest.FixtureRequest, name: str, **options) -> None:
    """Save a screenshot for the README, only when asked (`make screenshots`): a test run
    leaves the tree as it found it."""
    if request.config.getoption("--screenshots"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOTS / f"{name}.png", **options)
