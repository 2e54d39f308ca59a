"""Page: async callbacks. Every click runs its own task; the page never freezes."""

from app import runtime
from app.components.async_clicker import AsyncClicker
from app.components.blocking import BlockingDemo
from app.components.template import serve_page

process = runtime.current()
settings = process.settings
serve_page(
    "async_callbacks",
    AsyncClicker(duration=settings.async_task_seconds, max_tasks=settings.async_max_tasks),
    BlockingDemo(gate=process.blocking_gate, enabled=settings.blocking_demo),
)
