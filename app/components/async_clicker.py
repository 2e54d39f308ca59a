"""The async-callbacks demo: every click starts its own task that awaits, then reports."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from functools import partial

import panel as pn
import param
from panel.io.state import set_curdoc

from app.components.live_table import LiveTable, timer

log = logging.getLogger(__name__)

KEEP_FINISHED = 20  # finished tasks kept in the list, so it never grows without end
COALESCE_MS = 100  # the list is sent at most this often: a burst of clicks is one update


@dataclass
class TaskRecord:
    """One click's task, as the list shows it."""

    n: int
    started: float
    state: str = "running"  # running, finished, cancelled
    ended: float | None = None
    task: asyncio.Task | None = field(default=None, repr=False)

    def row(self, now: float) -> dict:
        end = self.ended if self.ended is not None else now
        return {
            "id": self.n,
            "state": self.state,
            # The browser counts a running task's seconds itself: no message per tick.
            "elapsed": timer(end - self.started, running=self.state == "running"),
            "cancellable": self.state == "running",
        }


class AsyncClicker(pn.viewable.Viewer):
    """A "Click me!" button whose async callback reports "Running N", awaits, and reports
    "Finished N". Each click is its own asyncio task, so clicks run concurrently and the
    server's event loop stays free while they wait. A live list shows this session's tasks,
    each cancellable; at most `max_tasks` run at once per session."""

    duration = param.Number(default=2.0, bounds=(0, None), doc="Seconds each click's task awaits.")
    max_tasks = param.Integer(default=50, bounds=(1, None), doc="Most tasks running at once.")
    status = param.String(default="", doc="The seed's status text.")
    message = param.String(default="", doc="Why a click started nothing.")

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self._tasks: dict[int, TaskRecord] = {}
        self._closed = False
        self._shown_at = 0.0
        self._show_pending = False
        self._button = pn.widgets.Button(label="Click me!", color="primary")
        self._button.on_click(self._run)
        # Set by a plain watcher rather than bound as a reference: one click is then one
        # property change, without param's reference machinery on the busiest path.
        self._status_text = pn.widgets.StaticText(value=self.status)
        self.param.watch(self._show_status, "status")
        self._table = LiveTable(
            on_cancel=self._cancel,
            caption="Your tasks",
            item="task",
            columns=[["state", "State"], ["elapsed", "Elapsed"]],
            empty_text="No tasks yet: click the button.",
            count_running=True,  # "3 tasks running", counted by the browser from the rows
        )
        if pn.state.curdoc is not None:
            pn.state.on_session_destroyed(self._on_session_destroyed)

    # -- the seed's callback, with a task list around it -----------------------------------
    async def _run(self, event) -> None:
        n = event.new
        if self._running_count() >= self.max_tasks:
            self.message = (
                f"Click {n} started nothing: {self.max_tasks} tasks are running, "
                "the most one session may have."
            )
            return
        record = TaskRecord(n, time.monotonic(), task=asyncio.current_task())
        self._tasks[n] = record
        self.message = ""
        self.status = f"Running {n}"
        self._changed()
        try:
            await asyncio.sleep(self.duration)
        except asyncio.CancelledError:
            # Cancelled by its button or because the session closed; this task is the top of
            # its own stack, so it ends here rather than re-raising into Panel's dispatcher.
            record.state = "cancelled"
            if not self._closed:
                self.status = f"Cancelled {n}"
        else:
            record.state = "finished"
            self.status = f"Finished {n}"
        finally:
            record.ended = time.monotonic()
            record.task = None
            if not self._closed:
                self._changed()

    def _show_status(self, event) -> None:
        self._status_text.value = event.new

    def _cancel(self, n: int) -> None:
        record = self._tasks.get(n)
        if record is not None and record.task is not None and record.state == "running":
            record.task.cancel()

    # -- the list ----------------------------------------------------------------------------
    def _running_count(self) -> int:
        return sum(1 for r in self._tasks.values() if r.state == "running")

    def _changed(self) -> None:
        finished = [n for n, r in self._tasks.items() if r.state != "running"]
        for n in finished[: max(0, len(finished) - KEEP_FINISHED)]:
            del self._tasks[n]
        if self._show_pending:
            return  # already on its way, and it will show this change too
        doc = pn.state.curdoc
        wait_ms = round((self._shown_at - time.monotonic()) * 1000) + COALESCE_MS
        if doc is None or doc.session_context is None or wait_ms <= 0:
            self._show()
            return
        self._show_pending = True
        doc.add_timeout_callback(partial(self._show_later, doc), wait_ms)

    def _show_later(self, doc) -> None:
        self._show_pending = False
        if not self._closed:
            with set_curdoc(doc):
                self._show()

    def _show(self) -> None:
        self._shown_at = now = time.monotonic()
        self._table.show([r.row(now) for r in self._tasks.values()])

    def _on_session_destroyed(self, session_context) -> None:
        # Tasks still waiting would otherwise write into a page nobody sees.
        self._closed = True
        running = [r.task for r in self._tasks.values() if r.task is not None]
        for task in running:
            task.cancel()
        log.info("session closed; %d async tasks cancelled", len(running))

    def __panel__(self):
        return pn.Column(
            pn.Row(self._button, self._status_text),
            pn.pane.Alert(
                self.param.message, alert_type="warning", visible=self.param.message.rx.bool()
            ),
            self._table,
            sizing_mode="stretch_width",
        )
