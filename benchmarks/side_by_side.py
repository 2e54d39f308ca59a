"""The app against an earlier commit of itself, on the same machine, alternately:

    python -m benchmarks.side_by_side REF [--rounds 2] [--sessions 100]

checks REF out into a temporary git worktree (removed afterwards), and for each round serves
first REF's app, then this checkout's, each fresh, with the benchmark settings
(benchmarks.servers.APP_ENV), and measures on each:

- the server CPU to open and close a session of the async and the queue pages (20 sessions
  each, five kept open at a time: what visitors coming and going cost);
- with `--sessions` background sessions of figure 1's mix, a protocol-level probe's 40 clicks
  to "Running N" (median, p95) and the longest garbage-collection pause over them (from
  /health, which REF must have);
- the server's CPU over 10 s with those sessions, and over 20 s while 3 visitors a second
  come and go besides, with the longest pause then;
- the probe's clicks again while figure 1's churn (5 visitors a second) goes on.

A shared machine is noisy: the rounds alternate, so each pair of lines is comparable.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from benchmarks.figures import Plan
from benchmarks.figures.latency import VISIT_SECONDS, VISITS, mix
from benchmarks.load import BackgroundLoad
from benchmarks.protocol_client import ProtocolSession
from benchmarks.servers import APP_ENV, Target, Watch, cpu_seconds, health
from tests.support.serving import ROOT, app_command, free_port, start, stop

PAGES = ("/async_callbacks", "/threaded_queue")


@contextlib.contextmanager
def worktree(ref: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="side-by-side-") as parent:
        path = Path(parent) / "tree"
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(path), ref],
                       cwd=ROOT, check=True)  # fmt: skip
        try:
            yield path
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(path)], cwd=ROOT,
                           check=False)  # fmt: skip


async def open_and_close(url: str, pid: int, path: str, count: int = 20) -> float:
    """Mean server CPU (ms) per session opened, five kept open, the oldest closed."""
    spent, live = [], []
    for _ in range(count):
        before = cpu_seconds(pid)
        session = ProtocolSession(url, path)
        await session.open()
        live.append(session)
        if len(live) > 5:
            await live.pop(0).close()
        spent.append((cpu_seconds(pid) - before) * 1000)
    for session in live:
        await session.close()
    return statistics.mean(spent[3:])


async def probe_clicks(url: str, clicks: int = 40) -> list[float]:
    """ms from each click to its "Running N" reaching a protocol-level session."""
    session = ProtocolSession(url, "/async_callbacks", watch="Running")
    await session.open()
    times = []
    try:
        for _ in range(clicks):
            await asyncio.sleep(random.uniform(0.2, 0.6))
            seen, started = session.counts.watched, time.perf_counter()
            await session.click("Click me!")
            async with asyncio.timeout(10):
                while session.counts.watched == seen:
                    await asyncio.sleep(0.001)
            times.append((time.perf_counter() - started) * 1000)
    finally:
        await session.close()
    return times


def measure(tree: Path, sessions: int, logs: Path) -> str:
    port = free_port()
    server = start(app_command(), port, logs / f"{tree.name}-{port}.log", APP_ENV, cwd=tree)
    try:
        cpu = {path: asyncio.run(open_and_close(server.url, server.pid, path)) for path in PAGES}
        with BackgroundLoad(server.url, mix("app", sessions - 1)) as load:
            times = sorted(asyncio.run(probe_clicks(server.url)))
            still = health(f"{server.url}/health", 30)["gc"]["max_ms"]
            target = Target("app", server.url, server.pid)
            with Watch(target, gc=False) as busy:
                time.sleep(10)
            load.start_churn(3.0, 1.0, VISITS)
            with Watch(target, gc=False) as churn:
                time.sleep(20)
            load.stop_churn()
            churning = health(f"{server.url}/health", 20)["gc"]["max_ms"]
            plan = Plan()
            load.start_churn(plan.churn_rate, VISIT_SECONDS, VISITS)
            churn_times = sorted(asyncio.run(probe_clicks(server.url)))
            load.stop_churn()
    finally:
        stop(server)
    builds = ", ".join(f"{path} {ms:.0f} ms" for path, ms in cpu.items())
    return (
        f"session open+close CPU: {builds}; {sessions} sessions: click to Running median "
        f"{statistics.median(times):.1f} ms, p95 {p95(times):.1f} ms, "
        f"longest GC pause {still:.0f} ms, server CPU {busy.result()['server_cpu_percent']}%; "
        f"with 3 visitors/s coming and going, longest pause {churning:.0f} ms, server CPU "
        f"{churn.result()['server_cpu_percent']}%; with {plan.churn_rate:g}/s, click to "
        f"Running median {statistics.median(churn_times):.1f} ms, p95 {p95(churn_times):.1f} ms"
    )


def p95(times: list[float]) -> float:
    return times[int(0.95 * len(times)) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("ref", help="the earlier commit (anything git rev-parse takes)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--sessions", type=int, default=100)
    args = parser.parse_args()
    logs = Path(tempfile.mkdtemp(prefix="side-by-side-logs-"))
    with worktree(args.ref) as earlier:
        for round_ in range(1, args.rounds + 1):
            for name, tree in ((args.ref, earlier), ("this checkout", ROOT)):
                print(f"round {round_}, {name}: {measure(tree, args.sessions, logs)}",
                      flush=True)  # fmt: skip
    print(f"server logs in {logs}")


if __name__ == "__main__":
    main()
