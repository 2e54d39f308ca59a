"""The async-callbacks demo: every click starts its own task that awaits, then reports."""

from __future__ import annotations

import asyncio
import logging

import panel as pn
import param

log = logging.getLogger(__name__)


class AsyncClicker(pn.viewable.Viewer):
    """A "Click me!" button whose async callback reports "Running N", awaits, and reports
    "Finished N". Each click is its own asyncio task, so clicks run concurrently and the
    server's event loop stays free while they wait."""

    duration = param.Number(default=2.0, bounds=(0, None), doc="Seconds each click's task awaits.")

    status = param.String(default="", doc="The seed's status text.")

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self._tasks: set[asyncio.Task] = set()
        self._button = pn.widgets.Button(label="Click me!", color="primary")
        self._text = pn.widgets.StaticText(value=self.param.status)
        self._button.on_click(self._run)
        if pn.state.curdoc is not None:
            pn.state.on_session_destroyed(self._on_session_destroyed)

    async def _run(self, event) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            self.status = f"Running {event.new}"
            await asyncio.sleep(self.duration)
            self.status = f"Finished {event.new}"
        except asyncio.CancelledError:
            # Cancelled because its session closed: this task is the top of its own stack.
            log.debug("task %d cancelled", event.new)
        finally:
            if task is not None:
                self._tasks.discard(task)

    def _on_session_destroyed(self, session_context) -> None:
        # Tasks still waiting would otherwise write into a page nobody sees.
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            log.debug("cancelled %d async tasks of a closed session", len(self._tasks))

    def __panel__(self):
        return pn.Row(self._button, self._text)
