"""The Bokeh-streaming demo: clicks (and a live mode) stream new points into a line, under the
document lock, sending only the new points to the browser."""

from __future__ import annotations

import asyncio
import logging
import time

import panel as pn
import param
from bokeh.models import ColumnDataSource
from bokeh.plotting import figure

from app.components.ticker import start_ticker
from app.core.stream import RandomWalk

log = logging.getLogger(__name__)

SOURCE_NAME = "stream-source"  # how tests find the data source in the page's Bokeh document
SHOWN_INTERVAL = 2.0  # seconds between "Showing the last ..." updates in Live mode

PITFALL = (
    "Why `on_click` and not `pn.bind(..., watch=True)`: `pn.io.with_lock` marks the callback so "
    "that Panel runs it holding the document lock, and `pn.bind` wraps it in a function without "
    "that mark, so `cds.stream` would then run unlocked and fail."
)


class StreamingPlot(pn.viewable.Viewer):
    """A "Click me!" button that, `delay` seconds after each click, appends `points` points of a
    random walk to a Bokeh line; a "Live" toggle that streams `live_points` points `rate` times
    a second until it is switched off or the session ends. The source keeps at most `rollover`
    points."""

    delay = param.Number(default=1.0, bounds=(0, None), doc="Seconds from click to new points.")
    points = param.Integer(default=5, bounds=(1, None), doc="Points appended per click.")
    rollover = param.Integer(default=2000, bounds=(10, 100_000), doc="Most points kept.")
    live = param.Boolean(default=False, doc="Stream continuously.")
    rate = param.Integer(default=5, bounds=(1, 30), doc="Live updates per second.")
    live_points = param.Integer(default=10, bounds=(1, 500), doc="Points per live update.")
    streamed = param.Integer(default=1, doc="Points streamed since the page opened.")
    shown = param.String(default="", doc="What the plot shows, as a sentence.")

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self._walk = RandomWalk()
        self._source = ColumnDataSource(
            data={"x": [self._walk.last_x], "y": [self._walk.last_y]}, name=SOURCE_NAME
        )
        plot = figure(height=320, sizing_mode="stretch_width", x_axis_label="x", y_axis_label="y")
        plot.line(x="x", y="y", source=self._source, line_width=2)
        self._pane = pn.pane.Bokeh(plot, sizing_mode="stretch_width")
        self._button = pn.widgets.Button(label="Click me!", color="primary")
        # on_click keeps the `lock` attribute that pn.io.with_lock sets; pn.bind(..., watch=True)
        # would hide it, and cds.stream would then run without the document lock.
        self._button.on_click(self._stream)
        self._ticker: pn.io.PeriodicCallback | None = None
        self._shown_at = 0.0
        self._update_shown()
        if pn.state.curdoc is not None:
            pn.state.on_session_destroyed(self._on_session_destroyed)

    # -- the seed's click ------------------------------------------------------------------
    @pn.io.with_lock
    async def _stream(self, event) -> None:
        await asyncio.sleep(self.delay)
        self._append(self.points)

    def _append(self, n: int) -> None:
        """Stream n new points (the document lock is held). Only these points go over the
        websocket; the guide's `pane.param.trigger('object')` afterwards is not needed (on
        Panel 1.9.4 it adds no message to the websocket, as seen in a browser's frames)."""
        self._source.stream(self._walk.next_batch(n), rollover=self.rollover)
        self.streamed += n
        # In Live mode the sentence follows every two seconds: it costs a message of its own,
        # as much server time as the points themselves.
        now = time.monotonic()
        if not self.live or now - self._shown_at >= SHOWN_INTERVAL:
            self._update_shown()

    # -- live mode ---------------------------------------------------------------------------
    async def _tick(self) -> None:
        # Async, so that Panel runs it on the event loop, holding the document lock, even
        # when the server runs sync callbacks on threads (--num-threads).
        self._append(self.live_points)

    @param.depends("live", watch=True)
    def _toggle_live(self) -> None:
        if self.live and self._ticker is None:
            self._ticker = start_ticker(self._tick, self._period())
        elif not self.live and self._ticker is not None:
            self._ticker.stop()
            self._ticker = None

    @param.depends("rate", watch=True)
    def _change_rate(self) -> None:
        if self._ticker is not None:
            self._ticker.period = self._period()

    def _period(self) -> int:
        return round(1000 / self.rate)

    @param.depends("rollover", watch=True)
    def _apply_rollover(self) -> None:
        # A smaller bound applies at once, not only at the next update.
        if len(self._source.data["x"]) > self.rollover:
            self._source.data = {k: list(v[-self.rollover :]) for k, v in self._source.data.items()}

    def _on_session_destroyed(self, session_context) -> None:
        if self._ticker is not None:
            self._ticker.stop()
            self._ticker = None
            log.info("session closed; its live stream stopped")

    # -- view --------------------------------------------------------------------------------
    @param.depends("rollover", "live", watch=True)
    def _update_shown(self) -> None:
        self._shown_at = time.monotonic()
        kept = min(self.rollover, self.streamed)
        self.shown = f"Showing the last {kept:,} of {self.streamed:,} points"

    def __panel__(self):
        controls = pn.Row(
            pn.widgets.Toggle.from_param(self.param.live, name="Live", width=90),
            pn.widgets.IntSlider.from_param(self.param.rate, name="Updates per second"),
            pn.widgets.IntSlider.from_param(
                self.param.live_points, name="Points per update", end=200
            ),
            pn.widgets.IntInput.from_param(
                self.param.rollover, name="Points kept (rollover)", step=500, width=180
            ),
        )
        return pn.Column(
            self._button,
            controls,
            pn.widgets.StaticText(value=self.param.shown),
            self._pane,
            pn.pane.Markdown(PITFALL, styles={"font-size": "0.9em"}),
            sizing_mode="stretch_width",
        )
