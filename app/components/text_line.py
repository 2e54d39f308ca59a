"""A line of text that changes often, such as a task's status.

Panel's StaticText is a Bokeh widget: the browser draws it again for every new value and lays
out the page around it once more, about 1 ms of the browser's time per change (a profile of
100 clicks at once on the async page, 200 statuses: 225 ms of the browser's 264 ms of handling
the server's messages). With clicks that come faster than that, each status waits for the
one before: the "Finished 100" of a 100-click burst showed 240 ms after the 2 s its task waits,
where a protocol-level client, which draws nothing, had it after 70. This line is a Panel
JSComponent (its code is text_line.js): a new value only replaces the text of one element."""

from __future__ import annotations

from pathlib import Path

import param

from app.components.browser_component import BrowserComponent

HERE = Path(__file__).parent


class TextLine(BrowserComponent):
    """One line of text, replaced in place in the browser when `text` changes."""

    text = param.String(default="", doc="The text shown.")

    _esm = HERE / "text_line.js"

    def __init__(self, **params) -> None:
        params.setdefault("align", "center")  # level with the button it reports on
        params.setdefault("margin", (5, 10))  # as a Panel widget's
        super().__init__(**params)
