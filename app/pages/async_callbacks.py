"""Page: async callbacks. Every click runs its own task; the page never freezes."""

from app import runtime
from app.components.async_clicker import AsyncClicker
from app.components.blocking import BlockingDemo
from app.components.template import serve_page

settings = runtime.current().settings
serve_page(
    "async_callbacks",
    AsyncClicker(duration=settings.async_task_seconds, max_tasks=settings.async_max_tasks),
    BlockingDemo(enabled=settings.blocking_demo),
)
