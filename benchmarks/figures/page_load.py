"""Figure 7: each page's first render in the browser against a bare one-widget Panel page, and
the server CPU it takes to build one page's session.

First render: ms from navigation to the page's button being visible, in a tab that has loaded
the page once before (the browser's cache warm, as for a returning visitor). Each page's loads
alternate with loads of the bare page (which goes first swaps every time), and its ratio is to
those bare loads: both are measured in the same seconds, so what else the shared machine does
weighs on both alike. (Until 2026-12-06 the app's pages were loaded first and the bare page a
few minutes later.)

Session build: `plan.builds` sessions of the page opened one after another over the protocol
(page request, websocket, document pull: what a tab's load costs the server), with nothing else
running; the server's CPU time over each opening, summed, divided by their number.
"""

from __future__ import annotations

import time

from playwright.sync_api import Page

from benchmarks.figures import Bench, close
from benchmarks.load import Activity, BackgroundLoad
from benchmarks.servers import Target, cpu_seconds, settle
from benchmarks.stats import summary

APP_PAGES = {"/home": "Async callbacks", "/async_callbacks": "Click me!",
             "/bokeh_streaming": "Click me!", "/threaded_queue": "Click to launch"}  # fmt: skip
BASELINE_PAGES = {"/async_callbacks": "Click me!", "/bokeh_streaming": "Click me!",
                  "/threaded_queue": "Click to launch", "/bare": "Click me!"}  # fmt: skip
BARE, BARE_BUTTON = "/bare", BASELINE_PAGES["/bare"]


def load_ms(page: Page, path: str, button: str) -> float:
    """Navigate `page` to `path`: ms until its button (the home page: its first link) shows."""
    started = time.perf_counter()
    page.goto(path)
    if path == "/home":
        page.get_by_role("link", name=button).first.wait_for()
    else:
        page.get_by_role("button", name=button).wait_for()
    return (time.perf_counter() - started) * 1000


def first_renders(bench: Bench, target: Target, path: str, button: str) -> dict:
    """`path`'s first renders, and the bare page's loaded alternately with them."""
    bare = bench.servers.baseline()
    page, bare_page = bench.page(target, path), bench.page(bare, BARE)
    own: list[float] = []
    beside: list[float] = []
    for i in range(bench.plan.page_loads):
        pair = [(page, path, button, own), (bare_page, BARE, BARE_BUTTON, beside)]
        for tab, at, name, values in pair if i % 2 == 0 else pair[::-1]:
            values.append(load_ms(tab, at, name))
    close([page, bare_page])
    return {"first_render_ms": summary(own), "bare_first_render_ms": summary(beside)}


def bare_renders(bench: Bench) -> dict:
    """The bare page's own first renders (the reference of the others)."""
    page = bench.page(bench.servers.baseline(), BARE)
    values = [load_ms(page, BARE, BARE_BUTTON) for _ in range(bench.plan.page_loads)]
    close([page])
    return {"first_render_ms": summary(values)}


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
            path: {**(bare_renders(bench) if path == BARE
                      else first_renders(bench, target, path, button)),
                   "build_cpu_ms": build_cpu_ms(bench, target, path)}
            for path, button in pages.items()
        }  # fmt: skip
    return out
