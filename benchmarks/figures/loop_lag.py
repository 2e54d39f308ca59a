"""Figure 6: the app's event-loop lag p99 while compute jobs run, from its own probe (/health,
a tick every 100 ms), and the round trip of GET /liveness meanwhile: with the threads backend
(both worker threads computing in the server process) and on Dask (first run only: the jobs
compute in the Dask workers, the replica only follows them). The guide's example, whose queue
only sleeps, has no probe: its /liveness is measured beside."""

from __future__ import annotations

import time
import urllib.request

from benchmarks.figures import Bench, close
from benchmarks.servers import Target, health
from benchmarks.stats import summary
from tests.support.waiting import wait_until

COMPUTE = "Compute (NumPy, releases the GIL)"
ITEMS = 10  # 2-s items on two workers: both busy through the window


def get_ms(url: str) -> float:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=10) as response:
        response.read()
    return (time.perf_counter() - started) * 1000


def pings(url: str, seconds: float) -> list[float]:
    """GET url every 50 ms for `seconds`; each round trip in ms."""
    out = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        out.append(get_ms(url))
        time.sleep(0.05)  # the pace of the pings
    return out


def busy_replica(target: Target) -> str:
    """The /health address of the process that holds the page's session, once both of the
    workers it reports are busy (for the cluster: the replica the balancer chose)."""

    def holder() -> str | None:
        for url in target.health:
            figures = health(url)
            if figures["sessions"] and figures["workers_busy"] >= 2:
                return url
        return None

    return wait_until(holder, timeout=30, what="both workers busy")


def while_computing(bench: Bench, target: Target) -> dict:
    page = bench.page(target, "/threaded_queue")
    if target.health:
        page.get_by_role("button", name=COMPUTE).click()
    for _ in range(ITEMS):
        page.get_by_role("button", name="Click to launch").click()
    window = bench.plan.lag_window_s
    if not target.health:  # the guide's example: no figures to wait for
        result = {"liveness_ms": summary(pings(f"{target.url}/liveness", window))}
        close([page])
        return result
    url = busy_replica(target)
    result = {"liveness_ms": summary(pings(url.replace("/health", "/liveness"), window))}
    figures = health(url, window)
    lag = figures["loop_lag"]
    result.update(
        loop_lag_p99_ms=lag["p99_ms"], loop_lag_max_ms=lag["max_ms"],
        workers_busy_at_end=figures["workers_busy"], backend=figures["backend"],
    )  # fmt: skip
    page.get_by_role("button", name="Cancel all").click()
    close([page])
    return result


def measure(bench: Bench) -> dict:
    out = {"threads": while_computing(bench, bench.servers.app()),
           "baseline": while_computing(bench, bench.servers.baseline())}  # fmt: skip
    if bench.first_run:
        out["dask"] = while_computing(bench, bench.servers.cluster())
    return out
