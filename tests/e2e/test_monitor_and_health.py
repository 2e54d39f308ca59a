"""The server monitor in every sidebar, the full monitor on the home page, /health, and the
blocking-versus-async contrast measured through it."""

from __future__ import annotations

import re

import pytest
from helpers import open_page
from playwright.sync_api import APIRequestContext, Page, expect

from app.registry import PAGES
from app.registry import Page as AppPage
from tests.support.waiting import wait_until

MONITOR = re.compile(r"^(\d+) sessions? · lag p99 \d+ ms · workers \d+/2 · \d+ waiting$")


def health(request: APIRequestContext, window: float | None = None) -> dict:
    response = request.get("/health" + (f"?window={window}" if window else ""))
    assert response.status in (200, 503)
    body = response.json()
    assert (response.status == 200) == body["ready"]
    return body


@pytest.mark.parametrize("current", PAGES, ids=lambda p: p.slug or "home")
def test_every_page_shows_the_server_monitor(page: Page, current: AppPage) -> None:
    open_page(page, f"/{current.slug}")
    expect(page.get_by_text(MONITOR)).to_be_visible()


def test_the_session_count_follows_visitors(page: Page, new_context) -> None:
    open_page(page, "/")
    # Earlier tests' sessions end within seconds of their tabs closing (pages fetched without
    # a browser, which never connect, within SESSION_CONNECT_SECONDS).
    expect(page.get_by_text(MONITOR)).to_have_text(re.compile(r"^1 session · "), timeout=20000)
    other = open_page(new_context().new_page(), "/async_callbacks")
    expect(page.get_by_text(MONITOR)).to_have_text(re.compile(r"^2 sessions · "), timeout=5000)
    expect(other.get_by_text(MONITOR)).to_have_text(re.compile(r"^2 sessions · "))
    other.context.close()
    expect(page.get_by_text(MONITOR)).to_have_text(re.compile(r"^1 session · "), timeout=5000)


def test_home_page_has_the_full_monitor_with_a_live_lag_plot(page: Page) -> None:
    open_page(page, "/")
    expect(page.get_by_role("heading", name="Server monitor")).to_be_visible()
    for figure in ("Live sessions", "Event-loop lag", "Threads", "Workers busy", "Memory (RSS)"):
        expect(page.get_by_role("cell", name=figure, exact=False).first).to_be_visible()
    points = "() => window.Bokeh.documents[0].get_model_by_name('lag-source').data.lag.length"
    start = page.evaluate(points)
    page.wait_for_function(f"() => ({points})() >= {start + 2}", timeout=5000)


def test_health_reports_the_snapshot(page: Page) -> None:
    body = health(page.request)
    assert body["status"] in ("ok", "degraded")
    assert isinstance(body["reasons"], list)
    for key in (
        "ready", "replica", "backend", "sessions", "threads", "workers_busy", "workers_total",
        "jobs_waiting", "jobs_max_waiting", "rss_mib", "uptime_s", "versions",
        "ended_sessions_freed_young", "ended_sessions_left_old",
    ):  # fmt: skip
        assert key in body, key
    assert body["ready"] is True and body["backend"] == "threads"
    assert set(body["loop_lag"]) >= {"p50_ms", "p99_ms", "max_ms", "samples"}
    assert body["workers_total"] == 2 and body["jobs_max_waiting"] == 6
    assert set(body["versions"]) == {"panel", "bokeh"}
    assert page.request.get("/health?window=soon").status == 400


def test_ended_sessions_are_freed_at_once(page: Page, new_context, serve_args: list[str]) -> None:
    """A closed tab's session, with its document, components and server-side callbacks, is
    freed by the young collection just after it ends (app/server/session_heap.py), not left
    for a full collection that would walk every live session too."""
    ended = lambda body: body["ended_sessions_freed_young"] + body["ended_sessions_left_old"]  # noqa: E731
    # Earlier tests' sessions first end (closed tabs within seconds; pages fetched without a
    # browser within SESSION_CONNECT_SECONDS).
    before = wait_until(lambda: health(page.request), lambda b: b["sessions"] == 0, 30)
    for current in PAGES:
        tab = open_page(new_context().new_page(), f"/{current.slug}")
        expect(tab.get_by_text(MONITOR)).to_be_visible()
        tab.context.close()
    after = wait_until(lambda: health(page.request),
                       lambda b: ended(b) >= ended(before) + len(PAGES), 20)  # fmt: skip
    freed_young = after["ended_sessions_freed_young"] - before["ended_sessions_freed_young"]
    if "--num-threads" in serve_args:
        # Callbacks then run on pool threads, and a next-tick callback that waited across a
        # collection leaves Bokeh's wrappers (reference cycles of its own) old once it has
        # run; old, they hold what they called until a full collection: at times one of the
        # four sessions (1 run in 3 here) waits for it.
        assert freed_young >= len(PAGES) - 1
        return
    assert freed_young == len(PAGES)


def test_blocking_freezes_the_loop_and_async_does_not(page: Page, serve_args: list[str]) -> None:
    open_page(page, "/async_callbacks")
    page.get_by_role("button", name="Click me!").click()
    status = page.get_by_text(re.compile(r"^(Running|Finished) \d+$"))
    expect(status).to_have_text(re.compile(r"^Finished"), timeout=4000)
    async_lag = health(page.request, window=2.5)["loop_lag"]
    assert async_lag["max_ms"] < 300, async_lag  # two seconds of awaiting: the loop stayed free

    page.get_by_role("button", name="Block for 1 s").click()
    expect(page.get_by_text(re.compile(r"^Blocked the server for 1\.\d s$"))).to_be_visible()
    blocked = health(page.request, window=2.5)
    if "--num-threads" in serve_args:
        # Panel runs the sync callback on its thread pool: the loop stays free, as the page
        # says it does.
        assert blocked["loop_lag"]["max_ms"] < 300, blocked["loop_lag"]
        return
    assert 900 <= blocked["loop_lag"]["max_ms"] < 1500, blocked["loop_lag"]
    # A slow loop is reported, but a process that is merely busy stays ready: no balancer or
    # health check should take it out, which would lose every session on it.
    assert (blocked["status"], blocked["ready"]) == ("degraded", True)
    assert blocked["reasons"][0].startswith("event-loop lag p99")
