"""A live table of a session's work items (jobs, tasks), each row with its own cancel button.

One browser-side component (a Panel JSComponent; its code is live_table.js, its style
live_table.css) draws every row and updates rows in place, so a tick costs one small message and
no new Bokeh models; a click on a row's "Cancel" comes back to Python as a message carrying the
row's id. Which columns it shows is set per use.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import param

from app.components.browser_component import BrowserComponent

log = logging.getLogger(__name__)

HERE = Path(__file__).parent


def seconds(value: float | None) -> str:
    """A duration as the tables show it."""
    return "—" if value is None else f"{value:.1f} s"


def timer(elapsed: float, running: bool) -> dict:
    """A cell the browser keeps counting while `running`, from `elapsed` seconds at sending:
    a clock that ticks without a message from the server."""
    return {"elapsed": round(elapsed, 2), "running": running}


class LiveTable(BrowserComponent):
    """Rows of work items, oldest first, with a cancel button per row; above them a line about
    the whole (`summary`) and the notices of the last action (`warning`, `error`), each shown
    only when not empty; below them, with `cancel_all`, a button that cancels every row.

    Each row is a dict with an int "id", a value per column key (a string, or a `timer(...)`
    the browser counts up itself), and optionally "progress" (0-100), "error" (why it failed),
    "note" (why it ended otherwise) and "cancellable" (whether its Cancel button is enabled).

    The notices live here rather than in panes of their own: every Panel pane is a Bokeh model
    more that each session builds (a few ms of the event loop each), for a line of text."""

    caption = param.String(default="", doc="The table's caption.")
    item = param.String(default="item", doc="What a row is, for labels: 'job', 'task'.")
    columns = param.List(default=[], doc="[key, title] pairs of the text columns.")
    progress = param.Boolean(default=False, doc="Whether rows have a progress bar.")
    empty_text = param.String(default="Nothing yet.")
    count_running = param.Boolean(
        default=False, doc="Show '<n> <item>s running' above the rows, counted in the browser."
    )
    summary = param.String(default="", doc="A line about all the items, above the rows.")
    warning = param.String(default="", doc="Why the last action did nothing.")
    error = param.String(default="", doc="What went wrong with the items.")
    cancel_all = param.Boolean(default=False, doc="Show a 'Cancel all' button under the rows.")
    # The rows travel as one JSON string: Bokeh walks a list of dicts value by value looking
    # for models to sync, which cost a busy server more than the rest of an update (py-spy).
    rows_json = param.String(default="[]", doc="The rows, one object per item, as JSON.")

    _esm = HERE / "live_table.js"
    # Inlined: Panel 1.9.4 serves a relative stylesheet of a JSComponent at the wrong URL.
    _stylesheets: ClassVar[list[str]] = [(HERE / "live_table.css").read_text()]

    def __init__(
        self,
        on_cancel: Callable[[int], None],
        on_cancel_all: Callable[[], None] | None = None,
        **params,
    ) -> None:
        super().__init__(**params)
        self._on_cancel = on_cancel
        self._on_cancel_all = on_cancel_all

    @property
    def rows(self) -> list[dict]:
        """The rows shown."""
        return json.loads(self.rows_json)

    def show(self, rows: list[dict]) -> None:
        """Show these rows; nothing is sent if they are what is shown already."""
        payload = json.dumps(rows, separators=(",", ":"))
        if payload != self.rows_json:
            self.rows_json = payload

    def _handle_msg(self, msg: object) -> None:
        # From the browser, so possibly forged: only {"cancel": <int>} and {"cancel_all": true}
        # mean anything.
        item_id = msg.get("cancel") if isinstance(msg, dict) else None
        if isinstance(item_id, int) and not isinstance(item_id, bool):
            self._on_cancel(item_id)
        elif msg == {"cancel_all": True} and self.cancel_all and self._on_cancel_all:
            self._on_cancel_all()
        else:
            log.debug("a live-table message that is not a cancel was ignored")
