"""Page: threaded queue. Items are worked by the process's shared pool of background threads."""

import panel as pn

from app import runtime
from app.components.job_panel import QueuePanel
from app.components.template import serve_page

pn.extension()
runtime.configure_logging()

serve_page(
    "threaded_queue",
    QueuePanel(runtime.job_queue(), item_seconds=runtime.settings().queue_item_seconds),
)
