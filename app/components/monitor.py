"""The live server monitor: a compact line for every page's sidebar, and a full view with a
sparkline of the event loop's lag on the home page. Both read the process's one shared snapshot
(Runtime.snapshot), the full view once a second and the sidebar line every two seconds; no
session runs a probe of its own."""

from __future__ import annotations

import html
import time

import panel as pn
import param
from bokeh.plotting import figure

from app import runtime
from app.components.session import SessionLoop
from app.components.sources import ServerOwnedSource
from app.components.ticker import start_ticker
from app.core.server_state import Snapshot

REFRESH_MS = 1000
SPARKLINE_POINTS = 120  # two minutes at one point a second


class _Ticking(param.Parameterized):
    """State refreshed from the snapshot every `refresh_ms` while its session lives."""

    refresh_ms: int = REFRESH_MS

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self._runtime = runtime.current()
        self._ticker = None
        self.refresh()
        session = SessionLoop()
        if session.in_server:
            self._ticker = start_ticker(self._tick, self.refresh_ms)
            session.on_close(self._stop)

    async def _tick(self) -> None:
        # Async, so Panel runs it on the event loop with the document lock even when sync
        # callbacks go to a thread pool (--num-threads).
        self.refresh()

    def refresh(self) -> None:
        self.show(self._runtime.snapshot())

    def show(self, snap: Snapshot) -> None:
        raise NotImplementedError

    def _stop(self) -> None:
        if self._ticker is not None:
            self._ticker.stop()


class SidebarMonitor(_Ticking):
    """"12 sessions · lag p99 3 ms · workers 2/2 · 5 waiting", updated every two seconds (the
    template shows it in the sidebar): it is on every page of every session, so its updates are
    a large share of a busy server's messages."""

    refresh_ms = 2 * REFRESH_MS
    line = param.String(default="")

    def show(self, snap: Snapshot) -> None:
        line = snap.line()
        if line != self.line:  # send nothing when nothing changed
            self.line = line


def figure_rows(snap: Snapshot) -> list[tuple[str, str]]:
    """The full monitor's figures: (name, value now)."""
    lag = snap.loop_lag
    status = snap.status if not snap.reasons else f"{snap.status}: {'; '.join(snap.reasons)}"
    return [
        ("Status", status),
        ("Server process", f"{snap.replica} · jobs run on {snap.backend}"),
        ("Live sessions", f"{snap.sessions} (of {snap.sessions_total} since start)"),
        ("Event-loop lag, last 60 s",
         f"p50 {lag.p50_ms:.1f} ms · p99 {lag.p99_ms:.1f} ms · max {lag.max_ms:.1f} ms"),
        ("Garbage collection, last 60 s",
         f"{snap.gc.collections} collections ({snap.gc.oldest_generation} full) · "
         f"longest pause {snap.gc.max_ms:.1f} ms"),
        ("Ended sessions freed at once",
         f"{snap.ended_sessions_freed_young} of "
         f"{snap.ended_sessions_freed_young + snap.ended_sessions_left_old}"),
        ("Threads", str(snap.threads)),
        ("Workers busy", f"{snap.workers_busy} of {snap.workers_total}"),
        ("Jobs waiting", f"{snap.jobs_waiting} of {snap.jobs_max_waiting}"),
        ("Memory (RSS)", f"{snap.rss_mib:.0f} MiB"),
        ("Uptime", f"{snap.uptime_s:.0f} s"),
        ("Versions",
         f"panel {snap.versions.get('panel')}, bokeh {snap.versions.get('bokeh')}"),
    ]  # fmt: skip


def figures_html(snap: Snapshot) -> str:
    """The figures as a table (HTML, not Markdown: this is sent every second, and a Markdown
    pane would parse its text again each time)."""
    rows = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{html.escape(value)}</td></tr>"
        for name, value in figure_rows(snap)
    )
    return (
        '<table class="figures"><thead><tr><th scope="col">Figure</th>'
        f'<th scope="col">Now</th></tr></thead><tbody>{rows}</tbody></table>'
    )


TABLE_CSS = """
h2 { font-size: 1.45em; margin: 0.6em 0 0.4em; font-weight: 600; }
table.figures { border-collapse: collapse; }
table.figures th, table.figures td { text-align: left; padding: 0.25em 1.2em 0.25em 0;
                                     border-bottom: 1px solid rgba(0, 0, 0, 0.1); }
"""


class FullMonitor(_Ticking, pn.viewable.Viewer):
    """Every figure of the snapshot, and the loop's lag over the last two minutes."""

    figures = param.String(default="")

    def __init__(self, **params) -> None:
        self._source = ServerOwnedSource(data={"t": [], "lag": []}, name="lag-source")
        self._t0 = time.monotonic()
        plot = figure(
            height=160,
            sizing_mode="stretch_width",
            x_axis_label="seconds",
            y_axis_label="max lag (ms)",
            toolbar_location=None,
            title="Event-loop lag, each second",
        )
        plot.line(x="t", y="lag", source=self._source, line_width=2)
        self._plot = pn.pane.Bokeh(plot, sizing_mode="stretch_width")
        super().__init__(**params)

    def show(self, snap: Snapshot) -> None:
        self.figures = "<h2>Server monitor</h2>" + figures_html(snap)
        # Periodic callbacks hold the document lock, so the source can be streamed into.
        lag = self._runtime.probe.stats(window=1.0).max_ms
        self._source.stream(
            {"t": [round(time.monotonic() - self._t0, 1)], "lag": [lag]},
            rollover=SPARKLINE_POINTS,
        )

    def __panel__(self):
        figures = pn.pane.HTML(
            self.param.figures, stylesheets=[TABLE_CSS], sizing_mode="stretch_width"
        )
        return pn.Column(figures, self._plot, sizing_mode="stretch_width")
