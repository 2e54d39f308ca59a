"""The live server monitor: a compact line in every page's sidebar, and a full view with a
sparkline of the event loop's lag on the home page. Both read the process's one shared snapshot
(Runtime.snapshot), the full view once a second and the sidebar line every two seconds; no
session runs a probe of its own."""

from __future__ import annotations

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


class _Ticking(pn.viewable.Viewer):
    """A view refreshed every `refresh_ms` while its session lives."""

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
    """"12 sessions · lag p99 3 ms · workers 2/2 · 5 waiting", updated every two seconds: it is
    on every page of every session, so its updates are a large share of a busy server's
    messages."""

    refresh_ms = 2 * REFRESH_MS
    line = param.String(default="")

    def show(self, snap: Snapshot) -> None:
        line = snap.line()
        if line != self.line:  # send nothing when nothing changed
            self.line = line

    def __panel__(self):
        return pn.Column(
            pn.pane.Markdown("**Server**", margin=(10, 10, 0, 10)),
            pn.widgets.StaticText(value=self.param.line, css_classes=["server-monitor"]),
        )


def figures_markdown(snap: Snapshot) -> str:
    lag = snap.loop_lag
    status = snap.status if not snap.reasons else f"{snap.status}: {'; '.join(snap.reasons)}"
    return "\n".join(
        [
            "| Figure | Now |",
            "| --- | --- |",
            f"| Status | {status} |",
            f"| Server process | {snap.replica} · jobs run on {snap.backend} |",
            f"| Live sessions | {snap.sessions} (of {snap.sessions_total} since start) |",
            f"| Event-loop lag, last 60 s | p50 {lag.p50_ms:.1f} ms · p99 {lag.p99_ms:.1f} ms · "
            f"max {lag.max_ms:.1f} ms |",
            f"| Garbage collection, last 60 s | {snap.gc.collections} collections "
            f"({snap.gc.oldest_generation} full) · longest pause {snap.gc.max_ms:.1f} ms |",
            f"| Threads | {snap.threads} |",
            f"| Workers busy | {snap.workers_busy} of {snap.workers_total} |",
            f"| Jobs waiting | {snap.jobs_waiting} of {snap.jobs_max_waiting} |",
            f"| Memory (RSS) | {snap.rss_mib:.0f} MiB |",
            f"| Uptime | {snap.uptime_s:.0f} s |",
            f"| Versions | panel {snap.versions.get('panel')}, "
            f"bokeh {snap.versions.get('bokeh')} |",
        ]
    )


class FullMonitor(_Ticking):
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
        self.figures = figures_markdown(snap)
        # Periodic callbacks hold the document lock, so the source can be streamed into.
        lag = self._runtime.probe.stats(window=1.0).max_ms
        self._source.stream(
            {"t": [round(time.monotonic() - self._t0, 1)], "lag": [lag]},
            rollover=SPARKLINE_POINTS,
        )

    def __panel__(self):
        return pn.Column(
            pn.pane.Markdown("## Server monitor"),
            pn.pane.Markdown(self.param.figures),
            self._plot,
            sizing_mode="stretch_width",
        )
