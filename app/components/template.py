"""The one template every page uses: header, sidebar (the pages and the server's load), the
page's heading and summary, and the notice shown when the connection to the server is lost.

It is one browser-side component (template.js, template.css) that draws all of that from a few
strings, around the page's own components. Panel's ready-made templates build their header,
sidebar, modal, busy indicator and each sidebar pane as Bokeh models of their own, and every
page's session builds them all again: measured here, a BootstrapTemplate page took three to
five times the server CPU of a bare page to build (97 to 152 ms against 32 ms), and a Panel
session is built on the one event loop every visitor shares. With this one, a page is its
template and its demo's components.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import panel as pn
import param
from panel.custom import Children

from app.components.browser_component import BrowserComponent
from app.components.mirror import mirror
from app.components.monitor import SidebarMonitor
from app.registry import HOME, PAGES, Page, page_for

HERE = Path(__file__).parent

SITE_TITLE = "Panel concurrency"
ACCENT = "#0072B5"


def page_title(page: Page) -> str:
    return SITE_TITLE if page is HOME else f"{page.title} · {SITE_TITLE}"


def nav_items(current: Page) -> list[dict]:
    """The sidebar's links: Home and every demo, the current one marked."""
    return [
        {"href": page.href, "label": f"{page.icon} {page.title}", "current": page == current}
        for page in PAGES
    ]


class PageTemplate(BrowserComponent):
    """A page of the app: `main` under the page's heading, in the shared header and sidebar.
    Everything but `main` and `server_line` is fixed when the page is built."""

    site_title = param.String(default=SITE_TITLE, doc="The header's text.")
    accent = param.Color(default=ACCENT, doc="The header's colour.")
    heading = param.String(default="", doc="The page's heading; none when empty.")
    summary = param.String(default="", doc="A sentence under the heading.")
    nav = param.List(default=[], doc="The sidebar's links (nav_items).")
    server_line = param.String(default="", doc="The sidebar's line about the server's load.")
    main = Children(default=[], doc="The page's own components.")

    _esm = HERE / "template.js"
    # Inlined: Panel 1.9.4 serves a relative stylesheet of a JSComponent at the wrong URL.
    _stylesheets: ClassVar[list[str]] = [(HERE / "template.css").read_text()]


def page_template(current: Page, *main: object, intro: bool = True) -> PageTemplate:
    """The app's template for `current` with `main` as its content, under the page's heading
    and summary from the registry (`intro=False`: the content brings its own)."""
    template = PageTemplate(
        site_title=page_title(current),
        heading=f"{current.icon} {current.title}" if intro else "",
        summary=current.summary if intro else "",
        nav=nav_items(current),
        main=list(main),
        sizing_mode="stretch_width",
    )
    mirror(SidebarMonitor(), "line", template, "server_line")
    return template


def serve_page(slug: str, *main: object, intro: bool = True) -> PageTemplate:
    """Put a page's components in the template and mark it servable, titled from the registry.
    No Location model (no page reads or sets the URL from Python) but under `--dev`, whose
    reloads of the open pages go through it."""
    page = page_for(slug)
    return page_template(page, *main, intro=intro).servable(
        title=page_title(page), location=bool(pn.config.autoreload)
    )
