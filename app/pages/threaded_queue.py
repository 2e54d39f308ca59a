"""Page: threaded queue. Items are worked by the process's shared job queue."""

from app import runtime
from app.components.job_panel import QueuePanel
from app.components.template import serve_page

process = runtime.current()
serve_page(
    "threaded_queue",
    QueuePanel(process.queue, item_seconds=process.settings.queue_item_seconds),
)
