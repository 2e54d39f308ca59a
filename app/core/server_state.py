"""One snapshot of a server process's state: readiness, sessions, loop lag, threads, the job
backend, memory.

The monitor in every page's sidebar, the home page's full monitor and /health all read the same
snapshot, so the figures agree wherever they are shown. Two questions are kept apart:
- ready: should this process get new visitors? (no while starting, draining or full; a balancer
  routes by it, and /health answers 503 when it is not);
- status: "ok", or "degraded" with the reasons (a slow loop, a dead worker, a cluster that cannot
  be reached): a person's and an operator's signal, which never takes a serving process out.
Whether the process answers at all is /liveness, which restarts it only when it does not.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import asdict, dataclass, field
from functools import cache
from importlib.metadata import PackageNotFoundError, version

from app.core.gc_pauses import GcStats
from app.core.jobs import QueueStats
from app.core.loop_lag import LagStats


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
    ready: bool
    reasons: list[str]  # why it is degraded or not ready
    replica: str
    backend: str
    sessions: int
    sessions_total: int
    loop_lag: LagStats
    gc: GcStats
    # Ended sessions freed by the young collection just after them, and those left to a full
    # collection (app/server/session_heap.py), since the process started.
    ended_sessions_freed_young: int
    ended_sessions_left_old: int
    threads: int
    workers_busy: int
    workers_total: int
    workers_alive: int
    jobs_waiting: int
    jobs_max_waiting: int
    cluster_waiting: int | None
    rss_mib: float
    uptime_s: float
    pid: int
    versions: dict[str, str] = field(default_factory=_versions)

    def as_dict(self) -> dict:
        return asdict(self)

    def public(self) -> dict:
        """What anyone may see: enough for a balancer and a liveness check, no internals."""
        return {"status": self.status, "ready": self.ready}

    def line(self) -> str:
        """The compact form shown in every page's sidebar."""
        where = "" if self.backend == "threads" else f" on {self.backend}"
        return (
            f"{self.sessions} session{'s' if self.sessions != 1 else ''} · "
            f"lag p99 {self.loop_lag.p99_ms:.0f} ms · "
            f"workers {self.workers_busy}/{self.workers_total}{where} · "
            f"{self.jobs_waiting} waiting"
        )


def take_snapshot(
    *,
    replica: str,
    sessions: tuple[int, int],
    lag: LagStats,
    gc: GcStats,
    ended_sessions: tuple[int, int],
    pool: QueueStats,
    started_at: float,
    lag_threshold_ms: float,
    not_ready: list[str],
) -> Snapshot:
    """Put the figures together; degraded while the lag p99 is over the threshold or the backend
    has problems; not ready for the reasons given."""
    reasons = list(not_ready)
    if lag.p99_ms > lag_threshold_ms:
        reasons.append(
            f"event-loop lag p99 {lag.p99_ms:.0f} ms is over the {lag_threshold_ms:.0f} ms limit"
        )
    if not pool.closed:
        reasons += pool.problems
    live, total = sessions
    return Snapshot(
        status="degraded" if reasons else "ok",
        ready=not not_ready,
        reasons=reasons,
        replica=replica,
        backend=pool.backend,
        sessions=live,
        sessions_total=total,
        loop_lag=lag,
        gc=gc,
        ended_sessions_freed_young=ended_sessions[0],
        ended_sessions_left_old=ended_sessions[1],
        threads=threading.active_count(),
        workers_busy=pool.busy_workers,
        workers_total=pool.workers,
        workers_alive=pool.alive_workers,
        jobs_waiting=pool.queued,
        jobs_max_waiting=pool.max_waiting,
        cluster_waiting=pool.cluster_waiting,
        rss_mib=round(rss_bytes() / 2**20, 1),
        uptime_s=round(time.monotonic() - started_at, 1),
        pid=os.getpid(),
    )
