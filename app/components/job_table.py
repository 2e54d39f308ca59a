"""A live table of one session's jobs: a row per job, updated in place, each with its own cancel.

Rows are kept by job id and only their changed values are sent to the browser, so a progress
tick costs a few bytes, not a re-render of the table.
"""

from __future__ import annotations

import html
from collections.abc import Callable

import panel as pn

from app.core.jobs import JobInfo
from app.core.work import WORK_KINDS

ROW_CSS = """
.job-cells { display: grid; grid-template-columns: 4em 11em 7em 5em 6em 6em;
             gap: 0.5em; align-items: center; font-variant-numeric: tabular-nums; }
.job-cells.header { font-weight: 600; }
.job-cells .state-failed { color: #b00020; }
.job-cells .state-cancelled { color: #777; }
.job-cells .state-done { color: #2e7d32; }
.job-error { grid-column: 1 / -1; color: #b00020; font-size: 0.9em; }
"""

HEADER = ("Job", "Kind", "State", "Position", "ETA", "Elapsed")
PROGRESS_WIDTH = 140


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} s"


def cells_html(job: JobInfo, now: float) -> str:
    """The text cells of a job's row."""
    kind = WORK_KINDS[job.kind].label.split(" (")[0] if job.kind in WORK_KINDS else job.kind
    elapsed = _seconds(job.elapsed(now)) if job.started_at is not None else "—"
    cells = [
        f'<span class="job-id">#{job.id}</span>',
        f"<span>{html.escape(kind)}</span>",
        f'<span class="state state-{job.state}">{job.state}</span>',
        f'<span class="position">{job.position if job.position is not None else "—"}</span>',
        f'<span class="eta">{_seconds(job.eta) if not job.state.final else "—"}</span>',
        f'<span class="elapsed">{elapsed}</span>',
    ]
    if job.error:
        cells.append(f'<span class="job-error">{html.escape(job.error)}</span>')
    return f'<div class="job-cells">{"".join(cells)}</div>'


class JobRow:
    """One job's row: its text cells, a progress bar and a cancel button."""

    def __init__(self, job: JobInfo, now: float, on_cancel: Callable[[int], None]) -> None:
        self.job_id = job.id
        self._cells = pn.pane.HTML(cells_html(job, now), stylesheets=[ROW_CSS], width=520)
        self._progress = pn.indicators.Progress(
            value=round(job.progress * 100), max=100, width=PROGRESS_WIDTH, height=20
        )
        self._cancel = pn.widgets.Button(
            label="Cancel", width=90, description=f"Cancel job {job.id}"
        )
        self._cancel.on_click(lambda event: on_cancel(self.job_id))
        self.view = pn.Row(
            self._cells, self._progress, self._cancel, css_classes=["job-row", f"job-{job.id}"]
        )
        self.update(job, now)

    def update(self, job: JobInfo, now: float) -> None:
        # Panel sends a property only when its value changes, so unchanged cells cost nothing.
        self._cells.object = cells_html(job, now)
        self._progress.value = round(job.progress * 100)
        self._cancel.disabled = job.state.final


class JobTable:
    """This session's jobs, oldest first, as rows that are added, updated and removed in place."""

    def __init__(self, on_cancel: Callable[[int], None]) -> None:
        self._on_cancel = on_cancel
        self._rows: dict[int, JobRow] = {}
        header = "".join(f"<span>{title}</span>" for title in HEADER)
        self._header = pn.Row(
            pn.pane.HTML(
                f'<div class="job-cells header">{header}</div>', stylesheets=[ROW_CSS], width=520
            ),
            pn.pane.HTML(
                '<div class="job-cells header">Progress</div>',
                stylesheets=[ROW_CSS],
                width=PROGRESS_WIDTH,
            ),
        )
        self._empty = pn.pane.Markdown("*No jobs yet: choose a kind and click to launch.*")
        self.view = pn.Column(self._header, self._empty, sizing_mode="stretch_width")

    def update(self, jobs: list[JobInfo], now: float) -> None:
        ids = [job.id for job in jobs]
        for job in jobs:
            row = self._rows.get(job.id)
            if row is None:
                self._rows[job.id] = JobRow(job, now, self._on_cancel)
            else:
                row.update(job, now)
        for gone in set(self._rows) - set(ids):
            del self._rows[gone]
        objects = [self._header, *(self._rows[i].view for i in ids)] if ids else [
            self._header,
            self._empty,
        ]
        if [id(o) for o in objects] != [id(o) for o in self.view.objects]:
            self.view.objects = objects
