"""Figure 1: click to "Running N" in a real Chromium tab while other sessions keep the server
busy, for the app and the guide's example; and the same while visitors come and go (churn).

The background sessions speak the Bokeh protocol (benchmarks.load): half click the async
page's button every 2 s (a 2-s task always running each), half stream 5 points a second into
their plot. They are added as the figure goes (1, 10, 50, 100 sessions in all, the tab
included), so each count's sessions are those of the count before and some more.
"""

from __future__ import annotations

import random

from playwright.sync_api import Page

from benchmarks.browser import click_and_time, install_click_clock
from benchmarks.figures import Bench, close
from benchmarks.load import Activity, BackgroundLoad
from benchmarks.servers import Target, Watch
from benchmarks.stats import p95_counting_misses, summary

CLICK_TIMEOUT_S = 10.0  # a click without "Running" within this long counts as lost
VISIT_SECONDS = 1.0  # how long a churning visitor's session lives
VISITS = [Activity("/async_callbacks"), Activity("/bokeh_streaming")]


def mix(name: str, sessions: int) -> list[Activity]:
    """The background of figure 1 (and 8): half the sessions click the async button every 2 s,
    half stream 5 points a second into their plot. The app streams with its Live mode at 1
    update of 5 points a second; the guide's example has only its button, clicked every second
    for the same 5 points a second."""
    if name.startswith("baseline"):
        stream = Activity("/bokeh_streaming", "Click me!", 1000, "ColumnsStreamed")
    else:
        stream = Activity(
            "/bokeh_streaming", watch="ColumnsStreamed",
            setup=(({"title": "Updates per second"}, "value", 1),
                   ({"title": "Points per update"}, "value", 5),
                   ({"label": "Live"}, "active", True)),
        )  # fmt: skip
    clicking = Activity("/async_callbacks", "Click me!", 2000, "Running")
    return [clicking if i % 2 == 0 else stream for i in range(sessions)]


def probe_clicks(page: Page, clicks: int) -> tuple[list[float], int]:
    """`clicks` real clicks on "Click me!", each at a random moment 0.2 to 0.6 s after the last
    one's feedback; ms from each click to its "Running N", and how many got none in time."""
    install_click_clock(page)
    values, lost = [], 0
    button = page.get_by_role("button", name="Click me!")
    for _ in range(clicks):
        page.wait_for_timeout(random.uniform(200, 600))
        try:
            # The page's N-th click's "Running N" (or a later N, should the server merge).
            values.append(click_and_time(page, button.click, r"Running (\d+)", CLICK_TIMEOUT_S))
        except TimeoutError:
            lost += 1
    return values, lost


def probed(bench: Bench, target: Target, probe: Page) -> dict:
    """The probe's clicks, with the server's CPU use meanwhile."""
    with Watch(target, gc=False) as cpu:
        values, lost = probe_clicks(probe, bench.plan.clicks)
    return {**summary(values), "no_feedback": lost,
            "p95_counting_lost": p95_counting_misses(values, lost), **cpu.result()}


def measure_target(bench: Bench, target: Target) -> dict:
    rows: dict = {}
    activities = mix(target.name, max(*bench.plan.sessions, bench.plan.churn_sessions))
    with BackgroundLoad(target.url, []) as load:
        probe = bench.page(target, "/async_callbacks")
        for n in bench.plan.sessions:
            with Watch(target) as watch:
                load.add(activities[len(load.sessions) : n - 1])
                row = probed(bench, target, probe)
            rows[str(n)] = {**row, "gc_max_ms": watch.gc_max_ms}
        with Watch(target) as watch:
            load.add(activities[len(load.sessions) : bench.plan.churn_sessions - 1])
            load.start_churn(bench.plan.churn_rate, VISIT_SECONDS, VISITS)
            row = probed(bench, target, probe)
            visits = load.stop_churn()
        rows["churn"] = {**row, "gc_max_ms": watch.gc_max_ms, "visits": visits,
                         "sessions": bench.plan.churn_sessions}  # fmt: skip
        close([probe])
        rows["background"] = load.stop()
    return rows


def measure(bench: Bench) -> dict:
    return {t.name: measure_target(bench, t) for t in (bench.servers.app(),
                                                       bench.servers.baseline())}
