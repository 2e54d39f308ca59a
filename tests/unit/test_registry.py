"""One registry of pages feeds the sidebar, the home page and the serve command."""

from __future__ import annotations

from app.components.template import nav_items
from app.registry import DEMOS, HOME, PAGES, page_for


def test_every_page_has_a_script_and_a_unique_slug() -> None:
    assert len({p.slug for p in PAGES}) == len(PAGES)
    for page in PAGES:
        assert page.script.is_file(), page.script
    for demo in DEMOS:
        assert demo.app_name == demo.slug  # panel serve names the app after the script
    assert page_for("") is HOME


def test_sidebar_marks_only_the_current_page() -> None:
    for current in PAGES:
        items = nav_items(current)
        assert [item["href"] for item in items] == [page.href for page in PAGES]
        assert [item["href"] for item in items if item["current"]] == [current.href]
        labels = [item["label"] for item in items]
        assert labels == [f"{page.icon} {page.title}" for page in PAGES]
