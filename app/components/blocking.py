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

from app.core.limits import Gate

MAX_BLOCK_SECONDS = 1.0

EXPLANATION = (
    "**Blocking versus async.** *Block for 1 s* waits with `time.sleep(1)` in a plain callback: "
    "the server's event loop can do nothing else meanwhile, so every page of every visitor "
    "freezes for that second (watch the lag in the sidebar). *Click me!* waits the same time "
    "with `await asyncio.sleep(...)`, and the loop stays free. With `panel serve --num-threads N` "
    "Panel runs plain callbacks like this one on a pool of threads, and it no longer freezes "
    "the loop."
)


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
        warning = pn.pane.Alert(
            f"**This button freezes the server for every visitor** for {self.seconds:g} s "
            f"(at most once every {self._gate.min_interval:g} s).",
            alert_type="danger",
            visible=self.enabled,
        )
        return pn.Column(
            pn.pane.Markdown(EXPLANATION),
            warning,
            pn.Row(self._button, pn.widgets.StaticText(value=self.param.result)),
            sizing_mode="stretch_width",
        )
