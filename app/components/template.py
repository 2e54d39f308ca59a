"""The one template every page uses, with the same sidebar built from the page registry."""

from __future__ import annotations

import html

import panel as pn

from app.components.connection import ConnectionNotice
from app.components.monitor import SidebarMonitor
from app.registry import HOME, PAGES, Page, page_for

SITE_TITLE = "Panel concurrency"
ACCENT = "#0072B5"

NAV_CSS = """
.site-nav ul { list-style: none; margin: 0; padding: 0; }
.site-nav li { margin: 0.15em 0; }
.site-nav a { display: block; padding: 0.45em 0.7em; border-radius: 6px;
              color: inherit; text-decoration: none; }
.site-nav a:hover { background: rgba(0, 114, 181, 0.10); }
.site-nav a[aria-current="page"] { background: rgba(0, 114, 181, 0.18); font-weight: 600; }
"""


def nav_html(current: Page) -> str:
    """The sidebar's links: Home and every demo, the current one marked aria-current."""
    items = []
    for page in PAGES:
        current_attr = ' aria-current="page"' if page == current else ""
        items.append(
            f'<li><a href="{page.href}"{current_attr}>'
            f"{page.icon} {html.escape(page.title)}</a></li>"
        )
    return '<nav class="site-nav" aria-label="Pages"><ul>' + "".join(items) + "</ul></nav>"


def sidebar(current: Page) -> list:
    return [
        pn.pane.HTML(nav_html(current), stylesheets=[NAV_CSS], sizing_mode="stretch_width"),
        SidebarMonitor(),
    ]


def page_title(page: Page) -> str:
    return SITE_TITLE if page is HOME else f"{page.title} · {SITE_TITLE}"


def page_template(current: Page, *main: object) -> pn.template.BootstrapTemplate:
    """The app's template for `current`, with the shared sidebar and `main` as its content
    (and the notice shown if the connection to the server is lost)."""
    return pn.template.BootstrapTemplate(
        title=page_title(current),
        site_url="./",
        header_background=ACCENT,
        sidebar=sidebar(current),
        main=[ConnectionNotice(), *main],
        sidebar_width=260,
        # No busy spinner: Panel's busy state is one for the whole process, so every callback
        # of any session would update the spinner of every session (measured: most of the
        # server's time with a few live streams). The sidebar monitor shows the load instead.
        busy_indicator=None,
    )


def intro(page: Page) -> pn.pane.Markdown:
    """A page's heading and summary, from the registry."""
    return pn.pane.Markdown(
        f"# {page.icon} {page.title}\n\n{page.summary}", sizing_mode="stretch_width"
    )


def serve_page(slug: str, *main: object) -> pn.template.BootstrapTemplate:
    """Put a page's components under its heading in the template and mark it servable."""
    page = page_for(slug)
    return page_template(page, intro(page), *main).servable()

