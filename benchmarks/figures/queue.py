"""Figure 3: the job queue. Pickup, from a click on "Click to launch" to "Processing item 1 of
1" with a worker idle: the app's threads backend against the guide's polling example, and the
app on Dask through the scaled-out topology (first run only). Jobs per second for many short
items (0.05 s each) launched from several protocol sessions at once: threads against Dask.
"""

from __future__ import annotations

import random
import re
import time
from datetime import datetime
from pathlib import Path

from playwright.sync_api import Page, expect

from benchmarks.browser import install_click_clock, ms_from_click_until
from benchmarks.figures import Bench, close
from benchmarks.load import Activity, BackgroundLoad
from benchmarks.servers import SHORT_ITEMS_ENV, Target
from benchmarks.stats import summary
from tests.support.waiting import wait_until

LAUNCHING_SESSIONS = 10
JOB_LINE = re.compile(r"^(\S+ \S+) .*?\bjob \d+ \(\w+\) of session \w+: (submitted|done)$", re.M)


def pickup_once(page: Page, rng: random.Random) -> float:
    expect(page.get_by_text("Queue empty")).to_be_visible(timeout=30000)
    # Click at a random moment, so a polling worker is caught at a random point of its sleep.
    page.wait_for_timeout(rng.uniform(0, 1000))
    page.get_by_role("button", name="Click to launch").click()
    return ms_from_click_until(page, "Processing item 1 of 1", timeout=30.0)


def pickups(bench: Bench, targets: list[Target]) -> dict:
    """Alternately on each target's queue page, `plan.pickups` times."""
    rng = random.Random(1)
    pages = {t.name: bench.page(t, "/threaded_queue") for t in targets}
    for page in pages.values():
        install_click_clock(page)
    values: dict[str, list[float]] = {name: [] for name in pages}
    for _ in range(bench.plan.pickups):
        for name, page in pages.items():
            values[name].append(pickup_once(page, rng))
    close(list(pages.values()))
    return {name: summary(v) for name, v in values.items()}


def _log_times(logs: tuple[Path, ...]) -> dict[str, list[float]]:
    """When each job was submitted and done, from the servers' logs (seconds since the epoch)."""
    out: dict[str, list[float]] = {"submitted": [], "done": []}
    for log in logs:
        for stamp, what in JOB_LINE.findall(log.read_text(errors="replace")):
            at = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp()
            out[what].append(at)
    return out


def jobs_per_second(target: Target, items: int, spread: bool) -> dict:
    """`items` short items launched at once from several sessions; jobs done per second from
    the first submitted to the last done (the servers' logs say when each was)."""
    before = {what: len(times) for what, times in _log_times(target.logs).items()}
    launch = Activity("/threaded_queue", "Click to launch", every_ms=20,
                      clicks=items // LAUNCHING_SESSIONS)  # fmt: skip
    started = time.monotonic()
    with BackgroundLoad(target.url, [launch] * LAUNCHING_SESSIONS, spread=spread) as load:
        times = wait_until(
            lambda: _log_times(target.logs),
            lambda t: len(t["done"]) - before["done"] >= items,
            timeout=120, what=f"{items} jobs done",
        )  # fmt: skip
        received = load.stop()
    submitted = sorted(times["submitted"])[before["submitted"] :]
    done = sorted(times["done"])[before["done"] :]
    seconds = max(done) - min(submitted)
    return {
        "items": items, "seconds": round(seconds, 2), "per_second": round(items / seconds, 1),
        "wall_s": round(time.monotonic() - started, 1), "sessions": received,
    }  # fmt: skip


def measure(bench: Bench) -> dict:
    out: dict = {"pickup_ms": pickups(bench, [bench.servers.app(), bench.servers.baseline()])}
    with bench.servers.fresh("app", SHORT_ITEMS_ENV) as short:
        out["jobs_per_second"] = {"threads": jobs_per_second(short, bench.plan.short_items, False)}
    if bench.first_run:
        out["pickup_ms"]["dask"] = pickups(bench, [bench.servers.cluster()])["cluster"]
        with bench.servers.fresh_cluster(SHORT_ITEMS_ENV) as cluster:
            dask = jobs_per_second(cluster, bench.plan.short_items, spread=True)
        out["jobs_per_second"]["dask"] = dask
    return out
