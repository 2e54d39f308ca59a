"""Baseline for the benchmarks: the guide's Bokeh-streaming example as it stands in the guide
(unbounded source, `pane.param.trigger('object')` after each stream)."""

import asyncio

import numpy as np
import panel as pn
from bokeh.models import ColumnDataSource
from bokeh.plotting import figure

button = pn.widgets.Button(name="Click me!")

p = figure(width=500, height=300)
cds = ColumnDataSource(data={"x": [0], "y": [0]}, name="stream-source")
p.line(x="x", y="y", source=cds)
pane = pn.pane.Bokeh(p)


@pn.io.with_lock
async def stream(event):
    await asyncio.sleep(1)
    x, y = cds.data["x"][-1], cds.data["y"][-1]
    cds.stream({"x": list(range(x + 1, x + 6)), "y": y + np.random.randn(5).cumsum()})
    pane.param.trigger("object")


# Equivalent to `.on_click` but shown
button.param.watch(stream, "clicks")
pn.Row(button, pane).servable()
