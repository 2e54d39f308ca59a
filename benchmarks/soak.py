"""The soak: many sessions on every page for minutes, clicking, streaming, launching and
cancelling jobs, with tabs closing and opening all along; then everything must balance.

    python -m benchmarks.soak [--seconds 150] [--sessions 100] [--rounds 2]    (make soak)

The sessions speak the Bokeh protocol (benchmarks/protocol_client.py), as a browser tab does.
Checks, each a line of the report (exit status 1 if one fails):
- the ledger: every job the server accepted (its log) reached exactly one final state;
- no traceback in the server log, no error in any session;
- after every session is gone: the server's threads back to their idle count, and its memory
  within RSS_BOUND of its idle figure;
- memory does not grow from one round of the load to the next (the load runs in rounds on the
  same server, every session gone between them): what stays after the first round is the
  allocator's high-water mark, kept for the next sessions, and it must not rise again;
and it reports the event loop's lag p99 over the soak.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import psutil

from benchmarks.load import Activity, BackgroundLoad
from tests.support.serving import Served, app_command, free_port, served
from tests.support.waiting import wait_until

# Memory once every session is gone, against the idle figure: CPython's allocator keeps most of
# what 100 busy sessions used (about 1.1 MiB each here) for the next ones, so the figure after a
# round is that high-water mark (2.2 to 2.4x idle measured), which this bounds; growth between
# rounds, which a leak would show, is bounded by ROUND_GROWTH.
RSS_BOUND = 2.0  # after the soak at most (1 + this) x the idle figure
ROUND_GROWTH = 0.10  # after the last round at most (1 + this) x after the first
CHURN_EVERY = 2.0  # seconds between tab churns
CHURN_SHARE = 0.05  # share of the sessions closed and replaced at each churn

ACTIVITIES = [
    Activity("/async_callbacks", "Click me!", every_ms=1000, watch="Running"),
    Activity(
        "/bokeh_streaming", "Click me!", every_ms=1500, watch="ColumnsStreamed",
        setup=(({"title": "Updates per second"}, "value", 2),
               ({"title": "Points per update"}, "value", 10),
               ({"label": "Live"}, "active", True)),
    ),
    Activity("/threaded_queue", ("Click to launch", "Click to launch", "Cancel all"),
             every_ms=1200),
    Activity("/home"),
]
# Every load session comes from this one machine's address: the per-client limit on new
# sessions (a defence against floods) is lifted for it, the rest is as shipped.
SERVER_ENV = {
    "QUEUE_ITEM_SECONDS": "1", "LOG_LEVEL": "INFO",
    "CLIENT_SESSION_BURST": "100000", "CLIENT_SESSIONS_PER_MINUTE": "100000",
}  # fmt: skip

JOB_LINE = re.compile(
    r"job (\d+) \(\w+\) of session \w+: (submitted|done|failed|cancelled)(: .*)?$"
)


@dataclass
class Result:
    seconds: float
    sessions: int
    churned: int
    actions: int
    session_errors: int
    jobs: int
    finals: Counter
    unbalanced: list[int]
    tracebacks: int
    lag_p99_ms: float
    threads: tuple[int, int]
    rss_mib: tuple[float, ...]  # idle, then after each round

    @property
    def failures(self) -> list[str]:
        out = []
        if self.unbalanced:
            out.append(f"jobs without exactly one final state: {self.unbalanced[:10]}")
        if self.tracebacks:
            out.append(f"{self.tracebacks} tracebacks in the server log")
        if self.session_errors:
            out.append(f"{self.session_errors} session errors")
        if self.threads[1] != self.threads[0]:
            out.append(f"threads {self.threads[0]} idle, {self.threads[1]} after")
        idle, first, last = self.rss_mib[0], self.rss_mib[1], self.rss_mib[-1]
        if last > idle * (1 + RSS_BOUND):
            out.append(f"memory {last:.0f} MiB after, over {1 + RSS_BOUND:g}x idle")
        if last > first * (1 + ROUND_GROWTH):
            out.append(f"memory grew from {first:.0f} to {last:.0f} MiB between rounds")
        return out

    def line(self) -> str:
        rss = " -> ".join(f"{mib:.0f}" for mib in self.rss_mib)
        return (
            f"soak: {self.seconds:.0f} s, {self.sessions} sessions (+{self.churned} opened and "
            f"closed), {self.actions:,} clicks; {self.jobs} jobs, "
            f"{sum(self.finals.values())} with one final state ({self.finals['done']} done, "
            f"{self.finals['failed']} failed, {self.finals['cancelled']} cancelled); "
            f"{self.tracebacks} tracebacks; loop-lag p99 {self.lag_p99_ms:.0f} ms; threads "
            f"{self.threads[0]} idle -> {self.threads[1]} after; RSS {rss} MiB (idle, then "
            f"after each of {len(self.rss_mib) - 1} rounds): "
            + ("PASS" if not self.failures else "FAIL: " + "; ".join(self.failures))
        )


def health(server: Served) -> dict:
    try:
        with urllib.request.urlopen(f"{server.url}/health", timeout=10) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as refused:
        return json.loads(refused.read())


def settle(server: Served, process: psutil.Process) -> tuple[int, float]:
    """Once every session is gone: the server's threads and RSS (MiB)."""
    wait_until(lambda: health(server)["sessions"], lambda n: n == 0, 30, "sessions all gone")
    return process.num_threads(), process.memory_info().rss / 2**20


def ledger(log: str) -> tuple[int, Counter, list[int]]:
    """Jobs submitted, their final states, and the ids without exactly one final state."""
    submitted, finals = set(), Counter()
    per_job: Counter = Counter()
    for line in log.splitlines():
        found = JOB_LINE.search(line)
        if not found:
            continue
        job, event = int(found.group(1)), found.group(2)
        if event == "submitted":
            submitted.add(job)
        else:
            finals[event] += 1
            per_job[job] += 1
    unbalanced = sorted(j for j in submitted | set(per_job) if per_job[j] != 1)
    return len(submitted), finals, unbalanced


@dataclass
class Round:
    churned: int
    lag_p99_ms: float
    totals: dict


def one_round(server: Served, seconds: float, sessions: int, rng: random.Random) -> Round:
    """`sessions` sessions on every page for `seconds`, a share of them closed and replaced
    every CHURN_EVERY seconds; then every session closed."""
    mix = [ACTIVITIES[i % len(ACTIVITIES)] for i in range(sessions)]
    churned, lag = 0, 0.0
    started = time.monotonic()
    with BackgroundLoad(server.url, mix) as load:
        while time.monotonic() - started < seconds:
            time.sleep(CHURN_EVERY)  # the pace of the churn, not a wait for a result
            count = max(1, round(sessions * CHURN_SHARE))
            load.churn(count, rng.sample(ACTIVITIES, k=min(count, len(ACTIVITIES))) * (
                count // len(ACTIVITIES) + 1))  # fmt: skip
            churned += count
            lag = max(lag, health(server)["loop_lag"]["p99_ms"])
        return Round(churned, lag, load.stop())


def soak(
    server: Served, seconds: float, sessions: int, rng: random.Random, rounds: int = 2
) -> Result:
    process = psutil.Process(server.pid)
    # Warm up: one session of each page, so that imports and caches are in the idle figure.
    with BackgroundLoad(server.url, [Activity(a.path) for a in ACTIVITIES]):
        pass
    idle_threads, idle_rss = settle(server, process)
    rss = [idle_rss]
    done: list[Round] = []
    started = time.monotonic()
    for _ in range(rounds):
        done.append(one_round(server, seconds / rounds, sessions, rng))
        rss.append(settle(server, process)[1])
    wait_until(process.num_threads, lambda n: n <= idle_threads, 30, "threads back to idle")
    threads = process.num_threads()
    jobs, finals, unbalanced = ledger(server.log())
    rows = [row for r in done for row in r.totals.values()]
    return Result(
        seconds=time.monotonic() - started,
        sessions=sessions,
        churned=sum(r.churned for r in done),
        actions=sum(row["actions"] for row in rows),
        session_errors=sum(row["errors"] for row in rows),
        jobs=jobs,
        finals=finals,
        unbalanced=unbalanced,
        tracebacks=server.log().count("Traceback"),
        lag_p99_ms=max(r.lag_p99_ms for r in done),
        threads=(idle_threads, threads),
        rss_mib=tuple(rss),
    )


def run(
    seconds: float, sessions: int, rounds: int = 2, extra_env: dict[str, str] | None = None
) -> Result:
    logs = Path(tempfile.mkdtemp(prefix="soak-"))
    port = free_port()
    env = {**SERVER_ENV, **(extra_env or {})}
    with served(app_command(), port, logs / "server.log", env) as server:
        return soak(server, seconds, sessions, random.Random(1), rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=150)
    parser.add_argument("--sessions", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=2, help="the seconds split among them")
    args = parser.parse_args()
    result = run(args.seconds, args.sessions, args.rounds)
    print(result.line())
    sys.exit(1 if result.failures else 0)


if __name__ == "__main__":
    main()
