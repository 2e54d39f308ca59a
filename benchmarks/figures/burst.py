"""Figure 2: 100 clicks at once in one tab, each a 2-s async task. From the first click until
"Finished 100" shows, minus the 2 s every task waits (what the handling of 100 click events
adds), and the server's CPU time per click event over the burst, for the app and the guide's
example."""

from __future__ import annotations

from benchmarks.browser import click_times, when_text
from benchmarks.figures import Bench, close
from benchmarks.servers import Target, cpu_seconds, settle
from benchmarks.stats import summary

CLICKS = 100


def measure_target(bench: Bench, target: Target) -> dict:
    extra, cpu_ms = [], []
    for _ in range(bench.plan.bursts):
        settle(target)
        page = bench.page(target, "/async_callbacks")
        page.get_by_role("button", name="Click me!").wait_for()
        before = cpu_seconds(target.pid)
        started = click_times(page, "Click me!", CLICKS)
        finished = when_text(page, rf"Finished {CLICKS}(?!\d)")
        cpu_ms.append((cpu_seconds(target.pid) - before) * 1000 / CLICKS)
        extra.append(finished - started - 2000)
        close([page])
    return {"extra_ms": summary(extra), "cpu_ms_per_click": summary(cpu_ms)}


def measure(bench: Bench) -> dict:
    return {t.name: measure_target(bench, t) for t in (bench.servers.app(),
                                                       bench.servers.baseline())}
