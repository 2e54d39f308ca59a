"""The Bokeh-streaming demo: clicks (and a live mode) stream new points into a line, under the
document lock, sending only the new points to the browser."""

from __future__ import annotations

import asyncio
import logging
import time

import panel as pn
import param
from bokeh.plotting import figure

from app.components.mirror import mirror
from app.components.session import SessionLoop
from app.components.sources import ServerOwnedSource
from app.components.ticker import start_ticker
from app.core.stream import RandomWalk
from app.settings import bounds, param_range

log = logging.getLogger(__name__)

SOURCE_NAME = "stream-source"  # how tests find the data source in the page's Bokeh document
SHOWN_INTERVAL = 2.0  # seconds between "Showing the last ..." updates in Live mode
# The tools a line that keeps moving needs. Bokeh's default set adds a box zoom (a tool and its
# overlay) and a link to Bokeh's help: four models of the figure's 34, which every session
# builds, walks, serializes and renders (3.8 ms of building and serializing a figure, in-process).
TOOLS = "pan,wheel_zoom,reset,save"

# Static, so written as HTML: a Markdown pane would parse it again for every session.
LESSON = (
    "<p><strong>The document lock.</strong> Bokeh models may only change while the session's "
    "document lock is held. <code>pn.io.with_lock</code> marks an async callback so that Panel "
    "runs it holding the lock: here it marks the short step that streams the points "
    "(<code>cds.stream</code>). A click first awaits its one-second delay <em>without</em> the "
    "lock: holding it across the wait would make every other click, the Live mode and the "
    "controls of this page wait behind it. Register callbacks with <code>on_click</code> (or "
    "<code>param.watch</code>), not <code>pn.bind(..., watch=True)</code>, which hides the "
    "mark, so that <code>cds.stream</code> would run unlocked and fail.</p>"
)


class StreamingPlot(pn.viewable.Viewer):
    """A "Click me!" button that, `delay` seconds after each click, appends `points` points of a
    random walk to a Bokeh line; a "Live" toggle that streams `live_points` points `rate` times
    a second until it is switched off or the session ends. The source keeps at most `rollover`
    points; at most `max_pending` clicks wait for their points at once."""

    delay = param.Number(**param_range("stream_delay_seconds"))
    points = param.Integer(**param_range("stream_points_per_click"))
    max_pending = param.Integer(**param_range("stream_max_pending"))
    rollover = param.Integer(**param_range("stream_rollover"))
    live = param.Boolean(default=False, doc="Stream continuously.")
    rate = param.Integer(default=5, bounds=(1, 30), doc="Live updates per second.")
    live_points = param.Integer(
        default=10, bounds=bounds("stream_points_per_click"), doc="Points per live update."
    )
    streamed = param.Integer(default=1, doc="Points streamed since the page opened.")
    shown = param.String(default="", doc="What the plot shows, as a sentence.")
    message = param.String(default="", doc="Why a click streamed nothing.")

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self._walk = RandomWalk()
        self._source = ServerOwnedSource(
            data={"x": [self._walk.last_x], "y": [self._walk.last_y]}, name=SOURCE_NAME
        )
        plot = figure(height=320, sizing_mode="stretch_width", x_axis_label="x", y_axis_label="y",
                      tools=TOOLS)  # fmt: skip
        plot.line(x="x", y="y", source=self._source, line_width=2)
        self._pane = pn.pane.Bokeh(plot, sizing_mode="stretch_width")
        self._button = pn.widgets.Button(label="Click me!", color="primary")
        # on_click keeps the mark pn.io.with_lock sets; pn.bind(..., watch=True) would hide it.
        self._button.on_click(self._stream)
        self._waiting: set[asyncio.Task] = set()  # clicks waiting for their points
        self._ticker: pn.io.PeriodicCallback | None = None
        self._shown_at = 0.0
        self._session = SessionLoop()
        self._session.on_close(self._stop)
        self._update_shown()
        self._message_text, self._shown_text = pn.widgets.StaticText(), pn.widgets.StaticText()
        mirror(self, "message", self._message_text)
        mirror(self, "shown", self._shown_text)

    # -- the seed's click ------------------------------------------------------------------
    async def _stream(self, event) -> None:
        """Runs on the event loop without the lock: it only waits, then has the points
        streamed by a locked step, so each click's points arrive `delay` after *its* click."""
        if len(self._waiting) >= self.max_pending:
            self.message = (
                f"Click {event.new} streamed nothing: {self.max_pending} clicks are waiting "
                "for their points, the most one session may have."
            )
            return
        task = asyncio.current_task()
        self._waiting.add(task)
        self.message = ""
        try:
            await asyncio.sleep(self.delay)
        except asyncio.CancelledError:  # the session closed: nothing to stream into
            return
        finally:
            self._waiting.discard(task)
        # Scheduled on the loop; with_lock makes Panel hold the document lock while it runs.
        pn.state.execute(self._stream_click_points)

    @pn.io.with_lock
    async def _stream_click_points(self) -> None:
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

    # Widget changes may arrive on a pool thread (--num-threads): the document's callbacks
    # and the source are changed on the session's loop.
    @param.depends("live", "rate", watch=True)
    def _live_changed(self) -> None:
        self._session.call(self._apply_live)

    def _apply_live(self) -> None:
        if self.live and self._ticker is None:
            self._ticker = start_ticker(self._tick, self._period())
        elif not self.live and self._ticker is not None:
            self._ticker.stop()
            self._ticker = None
        elif self._ticker is not None and self._ticker.period != self._period():
            self._ticker.period = self._period()

    def _period(self) -> int:
        return round(1000 / self.rate)

    @param.depends("rollover", watch=True)
    def _rollover_changed(self) -> None:
        self._session.call(self._apply_rollover)

    def _apply_rollover(self) -> None:
        # A smaller bound applies at once, not only at the next update.
        if len(self._source.data["x"]) > self.rollover:
            self._source.data = {k: list(v[-self.rollover :]) for k, v in self._source.data.items()}

    def _stop(self) -> None:
        for task in list(self._waiting):
            task.cancel()
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
            pn.widgets.IntSlider.from_param(self.param.live_points, name="Points per update"),
            pn.widgets.IntInput.from_param(
                self.param.rollover, name="Points kept (rollover)", step=500, width=180
            ),
        )
        return pn.Column(
            pn.Row(self._button, self._message_text),
            controls,
            self._shown_text,
            self._pane,
            pn.pane.HTML(LESSON, styles={"font-size": "0.9em"}, sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
        )
