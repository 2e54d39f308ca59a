"""Page: Bokeh streaming. Clicks stream points into a Bokeh line under the document lock."""

from app import runtime
from app.components.stream_plot import StreamingPlot
from app.components.template import serve_page

settings = runtime.current().settings
serve_page(
    "bokeh_streaming",
    StreamingPlot(
        delay=settings.stream_delay_seconds,
        points=settings.stream_points_per_click,
        max_pending=settings.stream_max_pending,
        rollover=settings.stream_rollover,
    ),
)
