"""Every page has the one template and sidebar; every sidebar link leads where it says."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest
from helpers import open_page, screenshot
from playwright.sync_api import Page, expect

from app.components.live_table import LiveTable
from app.components.template import PageTemplate, page_title
from app.components.text_line import TextLine
from app.registry import DEMOS, PAGES
from app.registry import Page as AppPage


def _nav(page: Page):
    return page.get_by_role("navigation", name="Pages")


@pytest.mark.parametrize("current", PAGES, ids=lambda p: p.slug or "home")
def test_every_page_has_the_sidebar_with_every_link(
    page: Page, base_url: str, current: AppPage, request: pytest.FixtureRequest
) -> None:
    open_page(page, f"/{current.slug}")
    expect(page).to_have_title(page_title(current))
    nav = _nav(page)
    expect(nav.get_by_role("link")).to_have_count(len(PAGES))
    for target in PAGES:
        link = nav.get_by_role("link", name=target.title)
        if target == current:
            expect(link).to_have_attribute("aria-current", "page")
        else:
            expect(link).not_to_have_attribute("aria-current", "page")
        # Where the link leads from this page (following each is the next test's job: a bare
        # GET would make a session that never connects).
        assert link.evaluate("a => a.href") == f"{base_url}/{target.slug}"
    screenshot(page, request, current.slug or "home")


def test_clicking_through_the_sidebar(page: Page) -> None:
    open_page(page, "/")
    for target in (*DEMOS, PAGES[0]):
        _nav(page).get_by_role("link", name=target.title).click()
        page.wait_for_url(f"**/{target.slug}")
        expect(page).to_have_title(page_title(target))
        expect(_nav(page).locator('[aria-current="page"]')).to_have_text(
            f"{target.icon} {target.title}"
        )


def test_home_introduces_and_links_every_demo(page: Page) -> None:
    open_page(page, "/")
    cards = page.locator("section.pattern")
    expect(cards).to_have_count(len(DEMOS))
    for demo in DEMOS:
        card = cards.filter(has_text=demo.title)
        expect(card).to_contain_text(demo.summary)
        assert card.get_by_role("link").evaluate("a => a.pathname") == f"/{demo.slug}"
    cards.first.get_by_role("link").click()
    page.wait_for_url(f"**/{DEMOS[0].slug}")
    expect(page).to_have_title(page_title(DEMOS[0]))


def test_the_app_answers_on_both_loopback_names(new_context, base_url: str) -> None:
    other_name = base_url.replace("localhost", "127.0.0.1")
    page = open_page(new_context(other_name).new_page(), "/async_callbacks")
    page.get_by_role("button", name="Click me!").click()
    expect(page.get_by_text("Running 1")).to_be_visible()


def test_the_components_modules_come_as_files_the_browser_can_cache(page: Page) -> None:
    # The queue page has all three browser-side components (app/components/browser_component.py).
    responses = []
    page.on("response", lambda r: responses.append(r) if "/components/" in r.url else None)
    open_page(page, "/threaded_queue")
    expect(page.get_by_role("button", name="Click to launch")).to_be_visible()
    expect(page.get_by_role("navigation", name="Pages")).to_be_visible()
    served = {urlparse(r.url).path: r for r in responses}
    assert set(served) == {
        f"/components/{c.__module__}/{c.__name__}/_bundle_path/{c._esm.name}"
        for c in (PageTemplate, LiveTable, TextLine)
    }
    for response in served.values():
        assert response.status == 200
        assert "javascript" in response.headers["content-type"]
        assert "last-modified" in response.headers  # so a returning visitor's browser keeps it
