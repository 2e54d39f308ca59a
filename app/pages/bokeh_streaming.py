"""Page: Bokeh streaming. Clicks stream points into a Bokeh line under the document lock."""

import panel as pn

from app import runtime
from app.components.stream_plot import StreamingPlot
from app.components.template import serve_page

pn.extension()
runtime.configure_logging()

settings = runtime.settings()
serve_page(
    "bokeh_streaming",
    StreamingPlot(
        delay=settings.stream_delay_seconds,
        points=settings.stream_points_per_click,
        rollover=settings.stream_rollover,
    ),
)
