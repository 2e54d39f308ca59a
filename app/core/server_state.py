"""One snapshot of a server process's state: sessions, loop lag, threads, the worker pool, memory.

The monitor in every page's sidebar, the home page's full monitor and the /health endpoint all
read the same snapshot, so the figures agree wherever they are shown.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import asdict, dataclass, field
from functools import cache
from importlib.metadata import PackageNotFoundError, version

from app.core.job_queue import JobQueue
from app.core.loop_lag import LagStats, LoopLagProbe

log = logging.getLogger(__name__)


class SessionRegistry:
    """The sessions a process serves now: opened and closed from any thread, logged once each."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._live: dict[str, str] = {}  # session id -> page
        self.total = 0

    def opened(self, session_id: str, page: str) -> None:
        with self._lock:
            if session_id in self._live:
                return
            self._live[session_id] = page
            self.total += 1
            live = len(self._live)
        log.info("session %s opened on /%s (%d live)", session_id, page, live)

    def closed(self, session_id: str) -> None:
        with self._lock:
            page = self._live.pop(session_id, None)
            live = len(self._live)
        if page is not None:
            log.info("session %s closed on /%s (%d live)", session_id, page, live)

    @property
    def live(self) -> int:
        with self._lock:
            return len(self._live)


def rss_bytes() -> int:
    """This process's resident memory (Linux /proc; 0 where it cannot be read)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


@cache
def _versions() -> dict[str, str]:
    found = {}
    for package in ("panel", "bokeh"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "unknown"
    return found


@dataclass(frozen=True)
class Snapshot:
    """The figures of one server process at one moment, and whether it is healthy."""

    status: str  # "ok" or "degraded"
    reasons: list[str]
    sessions: int
    sessions_total: int
    loop_lag: LagStats
    threads: int
    workers_busy: int
    workers_total: int
    workers_alive: int
    jobs_waiting: int
    jobs_max_waiting: int
    rss_mib: float
    uptime_s: float
    pid: int
    versions: dict[str, str] = field(default_factory=_versions)

    def as_dict(self) -> dict:
        return asdict(self)

    def line(self) -> str:
        """The compact form shown in every page's sidebar."""
        return (
            f"{self.sessions} session{'s' if self.sessions != 1 else ''} · "
            f"lag p99 {self.loop_lag.p99_ms:.0f} ms · "
            f"workers {self.workers_busy}/{self.workers_total} · {self.jobs_waiting} waiting"
        )


def take_snapshot(
    sessions: SessionRegistry,
    probe: LoopLagProbe,
    queue: JobQueue,
    started_at: float,
    lag_threshold_ms: float,
    lag_window: float | None = None,
) -> Snapshot:
    """Read every figure now; degraded when the lag p99 passes the threshold or a worker died."""
    lag = probe.stats(lag_window)
    pool = queue.stats()
    reasons = []
    if lag.p99_ms > lag_threshold_ms:
        reasons.append(
            f"event-loop lag p99 {lag.p99_ms:.0f} ms is over the {lag_threshold_ms:.0f} ms limit"
        )
    if pool.alive_workers < pool.workers and not pool.closed:
        reasons.append(f"only {pool.alive_workers} of {pool.workers} workers are alive")
    return Snapshot(
        status="degraded" if reasons else "ok",
        reasons=reasons,
        sessions=sessions.live,
        sessions_total=sessions.total,
        loop_lag=lag,
        threads=threading.active_count(),
        workers_busy=pool.running,
        workers_total=pool.workers,
        workers_alive=pool.alive_workers,
        jobs_waiting=pool.queued,
        jobs_max_waiting=pool.max_waiting,
        rss_mib=round(rss_bytes() / 2**20, 1),
        uptime_s=round(time.monotonic() - started_at, 1),
        pid=os.getpid(),
    )
