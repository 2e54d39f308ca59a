"""The home page's content: what each pattern is for, with a link to its page."""

from __future__ import annotations

import html

import panel as pn

from app.registry import DEMOS

# Static, so written as HTML, and one pane for all of it: a pane per card (or a Markdown pane,
# parsed again for every session) would be built anew by every visitor's session.
WELCOME = (
    "<h1>Staying responsive while the work is slow</h1>"
    "<p>Panel's <em>Async and Concurrency</em> guide, turned into pages that hold up with many "
    "users at once. Each page shows one way to keep a dashboard responsive while it waits for "
    "I/O, streams data or computes; every visitor gets their own state, and nothing a visitor "
    "starts outlives their tab.</p>"
)

CARD_CSS = """
h1 { font-size: 1.9em; margin: 0 0 0.4em; font-weight: 600; }
.pattern { margin: 0.8em 0; border: 1px solid rgba(0,0,0,0.12); border-radius: 8px;
           padding: 0.8em 1em; }
.pattern h2 { margin: 0 0 0.3em 0; font-size: 1.2em; }
.pattern p { margin: 0; }
"""


def pattern_card(title: str, icon: str, href: str, summary: str) -> str:
    return (
        f'<section class="pattern"><h2><a href="{href}">{icon} {html.escape(title)}</a></h2>'
        f"<p>{html.escape(summary)}</p></section>"
    )


HOME_HTML = WELCOME + "".join(pattern_card(p.title, p.icon, p.href, p.summary) for p in DEMOS)


def home_content() -> pn.pane.HTML:
    return pn.pane.HTML(HOME_HTML, stylesheets=[CARD_CSS], sizing_mode="stretch_width")
