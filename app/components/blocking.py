"""The blocking counterpart of the async button: the same wait, written as blocking code.

A sync callback that calls time.sleep holds the server's event loop, so every session of the
process freezes until it returns. It is off unless BLOCKING_DEMO is set (make serve sets it;
the Docker image does not), and bounded where it is on: one block at a time in the process,
and at most one every BLOCKING_DEMO_INTERVAL seconds (the runtime's gate), so that no visitor
can keep the server frozen by clicking."""

from __future__ import annotations

import math
import time

import panel as pn
import param

from app.components.mirror import mirror
from app.core.limits import Gate

MAX_BLOCK_SECONDS = 1.0

# Static, so written as HTML: a Markdown pane would parse it again for every session.
EXPLANATION = (
    "<p><strong>Blocking versus async.</strong> <em>Block for 1 s</em> waits with "
    "<code>time.sleep(1)</code> in a plain callback: the server's event loop can do nothing else "
    "meanwhile, so every page of every visitor freezes for that second (watch the lag in the "
    "sidebar). <em>Click me!</em> waits the same time with "
    "<code>await asyncio.sleep(...)</code>, and the loop stays free. With "
    "<code>panel serve --num-threads N</code> Panel runs plain callbacks like this one on a "
    "pool of threads, and it no longer freezes the loop.</p>"
)
WARNING_CSS = """
.warning { margin: 1em 0 0; padding: 1em 1.2em; border: 1px solid #f5c2c7; border-radius: 6px;
           color: #842029; background: #f8d7da; }
"""


class BlockingDemo(pn.viewable.Viewer):
    """A button whose sync callback blocks the event loop for `seconds` (at most 1 s), through
    a process-wide `gate` (one at a time, a pause between)."""

    seconds = param.Number(default=1.0, bounds=(0, MAX_BLOCK_SECONDS))
    enabled = param.Boolean(default=False, doc="Whether this server allows the demo.")
    result = param.String(default="")

    def __init__(self, gate: Gate | None = None, **params) -> None:
        super().__init__(**params)
        self._gate = gate or Gate(min_interval=10.0)
        self._button = pn.widgets.Button(
            label=f"Block for {self.seconds:g} s", color="danger", disabled=not self.enabled
        )
        self._button.on_click(self._block)
        if not self.enabled:
            self.result = "Off on this server (set BLOCKING_DEMO=1 to allow it)."

    def _block(self, event) -> None:
        if not self.enabled:
            return
        wait = self._gate.enter()
        if wait is not None:
            self.result = (
                "Not now: another visitor's block is running." if wait == 0 else
                f"Not now: this server may be frozen once every "
                f"{self._gate.min_interval:g} s; try again in {math.ceil(wait)} s."
            )  # fmt: skip
            return
        try:
            started = time.monotonic()
            time.sleep(min(self.seconds, MAX_BLOCK_SECONDS))  # on purpose: this is the demo
            self.result = f"Blocked the server for {time.monotonic() - started:.1f} s"
        finally:
            self._gate.leave()

    def __panel__(self):
        # The explanation and, where the demo is on, its warning: one static pane.
        warning = (
            f'<p class="warning" role="note"><strong>This button freezes the server for every '
            f"visitor</strong> for {self.seconds:g} s (at most once every "
            f"{self._gate.min_interval:g} s).</p>"
        )
        text = pn.pane.HTML(
            EXPLANATION + (warning if self.enabled else ""),
            stylesheets=[WARNING_CSS],
            sizing_mode="stretch_width",
        )
        result = pn.widgets.StaticText()
        mirror(self, "result", result)
        return pn.Column(text, pn.Row(self._button, result), sizing_mode="stretch_width")
