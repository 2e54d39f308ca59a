"""Figure 7: each page's first render in the browser against a bare one-widget Panel page, and
the server CPU it takes to build one page's session.

First render: ms from navigation to the page's button being visible, in a tab that has loaded
the page once before (the browser's cache warm, as for a returning visitor). Session build:
`plan.builds` sessions of the page opened one after another over the protocol (page request,
websocket, document pull: what a tab's load costs the server), with nothing else running; the
server's CPU time over each opening, summed, divided by their number.
"""

from __future__ import annotations

import time

from benchmarks.figures import Bench, close
from benchmarks.load import Activity, BackgroundLoad
from benchmarks.servers import Target, cpu_seconds, settle
from benchmarks.stats import summary

APP_PAGES = {"/home": "Async callbacks", "/async_callbacks": "Click me!",
             "/bokeh_streaming": "Click me!", "/threaded_queue": "Click to launch"}  # fmt: skip
BASELINE_PAGES = {"/async_callbacks": "Click me!", "/bokeh_streaming": "Click me!",
                  "/threaded_queue": "Click to launch", "/bare": "Click me!"}  # fmt: skip


def first_render(bench: Bench, target: Target, path: str, button: str) -> dict:
    page = bench.page(target, path)
    values = []
    for _ in range(bench.plan.page_loads):
        started = time.perf_counter()
        page.goto(path)
        if path == "/home":
            page.get_by_role("link", name=button).first.wait_for()
        else:
            page.get_by_role("button", name=button).wait_for()
        values.append((time.perf_counter() - started) * 1000)
    close([page])
    return summary(values)


def build_cpu_ms(bench: Bench, target: Target, path: str) -> dict:
    settle(target)
    values = []
    with BackgroundLoad(target.url, []) as load:
        for _ in range(bench.plan.builds):
            before = cpu_seconds(target.pid)
            load.add([Activity(path)])
            values.append((cpu_seconds(target.pid) - before) * 1000)
    return {"mean": round(sum(values) / len(values), 1), **summary(values)}


def measure(bench: Bench) -> dict:
    out: dict = {}
    for target, pages in ((bench.servers.app(), APP_PAGES),
                          (bench.servers.baseline(), BASELINE_PAGES)):  # fmt: skip
        out[target.name] = {
            path: {"first_render_ms": first_render(bench, target, path, button),
                   "build_cpu_ms": build_cpu_ms(bench, target, path)}
            for path, button in pages.items()
        }  # fmt: skip
    return out
