"""A live table of one session's jobs, each row with a progress bar and its own cancel button.

One browser-side component (a Panel JSComponent) draws every row and updates rows in place, so
a progress tick costs one small message and no new Bokeh models; a click on a row's "Cancel"
comes back to Python as a message carrying the job's id.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import panel as pn
import param

from app.core.jobs import JobInfo
from app.core.work import WORK_KINDS


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} s"


def row_of(job: JobInfo, now: float) -> dict:
    """What the table shows of a job: display strings, progress in percent, and whether it can
    still be cancelled."""
    kind = WORK_KINDS[job.kind].label.split(" (")[0] if job.kind in WORK_KINDS else job.kind
    return {
        "id": job.id,
        "kind": kind,
        "state": str(job.state),
        "position": "—" if job.position is None else str(job.position),
        "eta": "—" if job.state.final else _seconds(job.eta),
        "elapsed": _seconds(job.elapsed(now)) if job.started_at is not None else "—",
        "progress": round(job.progress * 100),
        "error": job.error or "",
        "cancellable": not job.state.final,
    }


class JobTable(pn.custom.JSComponent):
    """This session's jobs, oldest first."""

    rows = param.List(default=[], doc="One dict per job, as made by row_of.")

    _esm = """
    const COLUMNS = ["kind", "state", "position", "eta", "elapsed"];

    export function render({ model }) {
      const table = document.createElement("table");
      table.className = "jobs";
      table.innerHTML = `<caption>Your jobs</caption><thead><tr><th scope="col">Job</th>
        <th scope="col">Kind</th><th scope="col">State</th><th scope="col">Position</th>
        <th scope="col">ETA</th><th scope="col">Elapsed</th><th scope="col">Progress</th>
        <th scope="col"><span class="visually-hidden">Cancel</span></th></tr></thead>`;
      const body = document.createElement("tbody");
      table.appendChild(body);
      const empty = document.createElement("p");
      empty.className = "empty";
      empty.textContent = "No jobs yet: choose a kind and click to launch.";
      const rows = new Map();

      function makeRow(id) {
        const tr = document.createElement("tr");
        tr.className = "job-row";
        tr.dataset.job = id;
        tr.innerHTML = `<th scope="row" class="job-id">#${id}</th>` +
          COLUMNS.map(c => `<td class="${c}"></td>`).join("") +
          `<td><progress max="100" aria-label="Progress of job ${id}"></progress>` +
          `<div class="error"></div></td>` +
          `<td><button type="button" aria-label="Cancel job ${id}">Cancel</button></td>`;
        tr.querySelector("button").addEventListener("click", () => {
          model.send_msg({ cancel: id });
        });
        return tr;
      }

      function draw() {
        const seen = new Set();
        for (const job of model.rows) {
          seen.add(job.id);
          let tr = rows.get(job.id);
          if (!tr) {
            tr = makeRow(job.id);
            rows.set(job.id, tr);
          }
          body.appendChild(tr);  // keeps rows in the order given
          for (const c of COLUMNS) tr.querySelector(`.${c}`).textContent = job[c];
          tr.querySelector(".state").dataset.state = job.state;
          tr.querySelector("progress").value = job.progress;
          tr.querySelector(".error").textContent = job.error;
          tr.querySelector("button").disabled = !job.cancellable;
        }
        for (const [id, tr] of rows) {
          if (!seen.has(id)) { tr.remove(); rows.delete(id); }
        }
        empty.hidden = model.rows.length > 0;
      }

      model.on("rows", draw);
      draw();
      const wrapper = document.createElement("div");
      wrapper.append(table, empty);
      return wrapper;
    }
    """

    _stylesheets: ClassVar[list[str]] = [
        """
        table.jobs { border-collapse: collapse; font-variant-numeric: tabular-nums; }
        table.jobs caption { text-align: left; font-weight: 600; font-size: 1.15em;
                             padding: 0.3em 0; }
        table.jobs th, table.jobs td { text-align: left; padding: 0.3em 0.8em 0.3em 0; }
        table.jobs thead th { border-bottom: 1px solid rgba(0,0,0,0.2); }
        table.jobs progress { width: 140px; }
        td.state[data-state="done"] { color: #2e7d32; }
        td.state[data-state="failed"], .error { color: #b00020; }
        td.state[data-state="cancelled"] { color: #666; }
        .error { font-size: 0.85em; max-width: 22em; }
        .empty { color: #555; font-style: italic; }
        .visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden;
                           clip: rect(0 0 0 0); white-space: nowrap; }
        """
    ]

    def __init__(self, on_cancel: Callable[[int], None], **params) -> None:
        super().__init__(**params)
        self._on_cancel = on_cancel

    def update(self, jobs: list[JobInfo], now: float) -> None:
        rows = [row_of(job, now) for job in jobs]
        if rows != self.rows:
            self.rows = rows

    def _handle_msg(self, msg: dict) -> None:
        job_id = msg.get("cancel") if isinstance(msg, dict) else None
        if isinstance(job_id, int):
            self._on_cancel(job_id)
