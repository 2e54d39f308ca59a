"""One registry of pages feeds the sidebar, the home page and the serve command."""

from __future__ import annotations

import re

from app.components.template import nav_html
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
        html = nav_html(current)
        assert html.count('aria-current="page"') == 1
        marked = re.search(r'<a href="([^"]*)" aria-current="page">', html)
        assert marked is not None and marked.group(1) == current.href
        assert [f'href="{p.href}"' in html for p in PAGES] == [True] * len(PAGES)
