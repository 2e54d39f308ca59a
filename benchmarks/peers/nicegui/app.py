"""Panel's async-callbacks seed, written the idiomatic NiceGUI 3 way.

A page function builds a fresh UI per browser tab (so the counter is per session); the
button's handler is an async function, which NiceGUI runs as a background task on the
server's event loop, so clicks run concurrently. Label changes are pushed over the page's
socket.io connection by the client's outbox loop.

Run: PORT=... python app.py   (serves on 127.0.0.1).
"""

import asyncio
import os

from nicegui import ui


@ui.page("/")
def index():
    clicks = 0

    async def run_async():
        nonlocal clicks
        clicks += 1
        n = clicks
        text.set_text(f"Running {n}")
        await asyncio.sleep(2)
        text.set_text(f"Finished {n}")

    with ui.row().classes("items-center"):
        ui.button("Click me!", on_click=run_async)
        text = ui.label()


if __name__ in {"__main__", "__mp_main__"}:
    ui.run(host="127.0.0.1", port=int(os.environ.get("PORT", "8080")), reload=False, show=False,
           show_welcome_message=False, title="async callbacks")  # fmt: skip
