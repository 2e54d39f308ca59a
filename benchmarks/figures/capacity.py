"""Figure 8: capacity. The most background sessions of figure 1's mix one server holds while a
real tab's click still gets its "Running N" within 100 ms at p95: sessions are added step by
step (plan.capacity_steps), the tab clicks at each step, and the first step that misses ends
the climb (as does the time bound). For the app, the guide's example, and the scaled-out
topology (two replicas behind haproxy, jobs on Dask), whose load comes through the balancer
from a loopback address per session, as distinct visitors (haproxy limits connections per
client address).
"""

from __future__ import annotations

import time

from benchmarks.figures import Bench, close
from benchmarks.figures.latency import mix, probed
from benchmarks.load import BackgroundLoad
from benchmarks.servers import Target

TARGET_P95_MS = 100.0
CHUNK = 25  # sessions opened between two looks at the clock


def met(step: dict) -> bool:
    """p95 within the target, a click that got no feedback counted as infinitely late."""
    p95 = step["p95_counting_lost"]
    return p95 is not None and p95 <= TARGET_P95_MS


def climb(bench: Bench, target: Target) -> dict:
    steps: list[dict] = []
    deadline = time.monotonic() + bench.plan.capacity_minutes * 60
    spread = target.name.startswith("cluster")
    activities = mix(target.name, max(bench.plan.capacity_steps))
    ended = "every step met"
    with BackgroundLoad(target.url, [], spread=spread) as load:
        probe = bench.page(target, "/async_callbacks")
        for n in bench.plan.capacity_steps:
            while len(load.sessions) < n and time.monotonic() < deadline:
                load.add(activities[len(load.sessions) : min(n, len(load.sessions) + CHUNK)])
            if len(load.sessions) < n:
                ended = f"time bound ({bench.plan.capacity_minutes:g} min) reached"
                break
            row = {"sessions": n, **probed(bench, target, probe)}
            row.pop("values")
            steps.append(row)
            if not met(row):
                ended = f"missed at {n}"
                break
        close([probe])
        background = load.stop()
    held = [step["sessions"] for step in steps if met(step)]
    return {"held": max(held, default=0), "ended": ended, "steps": steps,
            "errors": sum(row["errors"] for row in background.values())}  # fmt: skip


def measure(bench: Bench) -> dict:
    servers = bench.servers
    return {t.name: climb(bench, t) for t in (servers.app(), servers.baseline(), servers.cluster())}
