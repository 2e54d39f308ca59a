"""The Bokeh-streaming demo: a click streams new points into a line, under the document lock."""

from __future__ import annotations

import asyncio

import panel as pn
import param
from bokeh.models import ColumnDataSource
from bokeh.plotting import figure

from app.core.stream import RandomWalk

SOURCE_NAME = "stream-source"  # how tests find the data source in the page's Bokeh document


class StreamingPlot(pn.viewable.Viewer):
    """A "Click me!" button that, `delay` seconds after each click, appends `points` points of a
    random walk to a Bokeh line. The data source keeps at most `rollover` points."""

    delay = param.Number(default=1.0, bounds=(0, None), doc="Seconds from click to new points.")
    points = param.Integer(default=5, bounds=(1, None), doc="Points appended per click.")
    rollover = param.Integer(default=2000, bounds=(10, None), doc="Most points kept in the plot.")

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

    @pn.io.with_lock
    async def _stream(self, event) -> None:
        await asyncio.sleep(self.delay)
        # Only the new points go over the websocket; no trigger('object'), which would
        # resend (and on Panel 1.9 break) the whole figure.
        self._source.stream(self._walk.next_batch(self.points), rollover=self.rollover)

    def __panel__(self):
        return pn.Column(self._button, self._pane, sizing_mode="stretch_width")
