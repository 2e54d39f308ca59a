"""The figures of the benchmark suite, one module each (or per group), and what they share: the
plan of a run (how many of everything, full or quick) and the bench a figure measures on (the
run's servers, its browser, whether it is the first run).

Every figure is `measure(bench) -> dict`, for the app and for what it is compared with; times
come from the browser's clock (performance.now) or the server process's own counters (psutil,
/health), never from a fixed sleep standing for a result.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Browser, Page

from benchmarks.servers import Servers, Target
from tests.support.browser import open_page


@dataclass(frozen=True)
class Plan:
    """How much of everything a run measures."""

    quick: bool = False
    sessions: tuple[int, ...] = (1, 10, 50, 100)  # figure 1: sessions in all, the probe's too
    clicks: int = 20  # probe clicks per point (figures 1 and 8)
    churn_sessions: int = 100  # figure 1's churn scenario: background sessions...
    churn_rate: float = 5.0  # ...while this many sessions a second open and close
    bursts: int = 3  # figure 2: bursts of 100 clicks per server
    pickups: int = 10  # figure 3: clicks to "Processing" per server
    short_items: int = 200  # figure 3: 0.05-s items for jobs per second
    memory_sessions: tuple[int, ...] = (1, 10, 50, 100)  # figure 5
    memory_churn_s: float = 60.0  # figure 5: seconds of sessions opened and closed
    lag_window_s: float = 8.0  # figure 6
    page_loads: int = 10  # figure 7: first renders per page (and as many of the bare page)
    builds: int = 20  # figure 7: sessions built per page, for server CPU
    capacity_steps: tuple[int, ...] = (25, 50, 100, 150, 200, 300)  # figure 8
    capacity_minutes: float = 6.0  # figure 8: most time per server
    peer_clicks: int = 20  # figure 9: clicks 1 s apart per condition
    peer_idle_tabs: int = 10  # figure 9: idle tabs for memory and threads
    peer_background_tabs: int = 5  # figure 9: background tabs clicking every 2 s
    peer_burst_limit_s: float = 60.0  # figure 9: longest wait for "Finished 100"


QUICK = Plan(
    quick=True, sessions=(1, 10), clicks=8, churn_sessions=10, churn_rate=2.0, bursts=1,
    pickups=3, short_items=40, memory_sessions=(1, 10), memory_churn_s=10.0, lag_window_s=4.0,
    page_loads=2, builds=5, capacity_steps=(10, 25), capacity_minutes=1.5, peer_clicks=4,
    peer_idle_tabs=2, peer_background_tabs=1, peer_burst_limit_s=8.0,
)  # fmt: skip


@dataclass
class Bench:
    """What a figure measures with: the plan, the run's servers and browser."""

    plan: Plan
    servers: Servers
    browser: Browser
    logs: Path
    first_run: bool = True

    def page(self, target: Target, path: str, frames: list | None = None) -> Page:
        """A rendered page in a browser context of its own (a session of its own); the
        websocket frames it receives are appended to `frames` if given."""
        page = self.browser.new_context(base_url=target.url).new_page()
        if frames is not None:
            page.on("websocket", lambda ws: ws.on("framereceived", lambda p: frames.append(p)))
        return open_page(page, path)


@dataclass(frozen=True)
class Figure:
    number: int
    key: str  # its results' key
    module: str  # benchmarks.figures.<module>.measure measures it
    every_run: bool = True  # False: measured in the first run only (the costly ones)

    @property
    def measure(self) -> Callable[[Bench], dict]:
        return importlib.import_module(f"benchmarks.figures.{self.module}").measure


FIGURES = [
    Figure(1, "click_to_feedback", "latency"),
    Figure(2, "burst", "burst"),
    Figure(3, "queue", "queue"),
    Figure(4, "bytes_per_update", "streaming"),
    Figure(5, "memory", "memory"),
    Figure(6, "loop_lag", "loop_lag"),
    Figure(7, "page_load", "page_load"),
    Figure(8, "capacity", "capacity", every_run=False),
    Figure(9, "peers", "peers", every_run=False),
]
# Figure 5 first, while the servers are fresh: memory freed by earlier sessions would be reused
# by its sessions and hide what they cost.
ORDER = [5, 1, 2, 3, 4, 6, 7, 8, 9]


def close(pages: list[Page]) -> None:
    for page in pages:
        page.context.close()
