"""Figure 5: server memory (RSS) and threads as idle sessions are added (protocol clients on
the queue page, each having launched one item), for the app and the guide's example, and once
they have all closed; then, on a fresh app server, memory after a minute of sessions opened and
closed, against its idle figure.

Run first in each run, on the fresh servers: a process that served sessions before reuses the
memory they freed, and new sessions would seem to cost nothing.
"""

from __future__ import annotations

import contextlib
import time

import psutil

from benchmarks.figures import Bench, close
from benchmarks.figures.latency import VISITS
from benchmarks.load import Activity, BackgroundLoad
from benchmarks.servers import Target, settle
from tests.support.waiting import wait_until

LAUNCH = Activity("/threaded_queue", "Click to launch", every_ms=200, clicks=1)
CHURN_VISITS = [*VISITS, Activity("/threaded_queue"), Activity("/home")]
CHURN_RATE = 5.0  # sessions opened a second
CHURN_LIFETIME = 2.0  # seconds each stays open


def rss_mib(process: psutil.Process) -> float:
    return round(process.memory_info().rss / 2**20, 1)


def until_closed(target: Target, process: psutil.Process, threads: int) -> None:
    """Until the server has destroyed its closed sessions: the app says so on /health; for the
    guide's example, its per-session threads end."""
    if target.health:
        settle(target)
        return
    with contextlib.suppress(TimeoutError):  # the figure shows how many are left
        wait_until(process.num_threads, lambda n: n <= threads, timeout=30,
                   what="the sessions' threads to end")  # fmt: skip


def population(bench: Bench, target: Target) -> list[dict]:
    process = psutil.Process(target.pid)
    close([bench.page(target, "/threaded_queue")])  # imports and caches of a first session
    until_closed(target, process, process.num_threads())
    base_rss, base_threads = rss_mib(process), process.num_threads()
    rows = []
    with BackgroundLoad(target.url, []) as load:
        for n in bench.plan.memory_sessions:
            load.add([LAUNCH] * (n - len(load.sessions)))
            load.wait_for_actions(n)
            rss = rss_mib(process)
            rows.append({
                "sessions": n, "rss_mib_before": base_rss, "rss_mib_open": rss,
                "mib_per_session": round((rss - base_rss) / n, 2),
                "threads_before": base_threads, "threads_open": process.num_threads(),
            })  # fmt: skip
    until_closed(target, process, base_threads)
    for row in rows:
        row["rss_mib_after_close"] = rss_mib(process)
        row["threads_after_close"] = process.num_threads()
    return rows


def churn(bench: Bench) -> dict:
    """A fresh app: its idle RSS (after one session of each page), then sessions of every page
    opened and closed for `plan.memory_churn_s`, then its RSS once they have all ended."""
    with bench.servers.fresh("app") as target:
        process = psutil.Process(target.pid)
        with BackgroundLoad(target.url, CHURN_VISITS):
            pass  # imports and caches of a first session of each page
        settle(target)
        idle, threads = rss_mib(process), process.num_threads()
        with BackgroundLoad(target.url, []) as load:
            load.start_churn(CHURN_RATE, CHURN_LIFETIME, CHURN_VISITS)
            time.sleep(bench.plan.memory_churn_s)  # the churn's length, not a wait for a result
            visits = load.stop_churn()
            peak = rss_mib(process)
        settle(target)
        after = rss_mib(process)
        return {
            "seconds": bench.plan.memory_churn_s, "visits": visits, "rss_mib_idle": idle,
            "rss_mib_peak": peak, "rss_mib_after": after, "after_over_idle": round(after / idle, 3),
            "threads_idle": threads, "threads_after": process.num_threads(),
        }  # fmt: skip


def measure(bench: Bench) -> dict:
    out: dict = {t.name: population(bench, t) for t in (bench.servers.app(),
                                                        bench.servers.baseline())}
    out["churn"] = churn(bench)
    return out
