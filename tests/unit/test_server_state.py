"""The loop-lag probe, the session registry and the server snapshot."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest

from app.core.job_queue import JobQueue
from app.core.loop_lag import LoopLagProbe
from app.core.server_state import SessionRegistry, rss_bytes, take_snapshot


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """An event loop running in a thread of its own, like the server's."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


def run_on(loop: asyncio.AbstractEventLoop, function, *args):
    """Run function(*args) on the loop's thread and return its result."""
    return asyncio.run_coroutine_threadsafe(_call(function, *args), loop).result(5)


async def _call(function, *args):
    return function(*args)


def wait_for_samples(probe: LoopLagProbe, n: int) -> None:
    deadline = time.monotonic() + 5
    pause = threading.Event()
    while probe.stats().samples < n:
        assert time.monotonic() < deadline, "the probe does not tick"
        pause.wait(probe.interval)


def test_an_idle_loop_shows_next_to_no_lag(loop) -> None:
    probe = LoopLagProbe(interval=0.01, window=5)
    run_on(loop, probe.start, loop)
    wait_for_samples(probe, 20)
    stats = probe.stats()
    assert stats.p50_ms < 5 and stats.p99_ms < 30
    probe.stop()


def test_a_blocked_loop_shows_about_the_block(loop) -> None:
    probe = LoopLagProbe(interval=0.01, window=5)
    run_on(loop, probe.start, loop)
    wait_for_samples(probe, 5)
    run_on(loop, time.sleep, 0.3)  # a callback that blocks the loop, as blocking code does
    wait_for_samples(probe, 40)
    stats = probe.stats()
    assert 250 <= stats.max_ms < 600
    assert stats.p99_ms >= 200  # the freeze counts for every tick it delayed, not just one
    assert probe.stats(window=0.001).samples <= 1  # a short window forgets it
    probe.stop()


def test_stats_before_the_first_tick_are_zero() -> None:
    stats = LoopLagProbe().stats()
    assert (stats.p99_ms, stats.max_ms, stats.samples) == (0.0, 0.0, 0)


def test_the_registry_counts_each_session_once() -> None:
    registry = SessionRegistry()
    registry.opened("a", "home")
    registry.opened("a", "home")
    registry.opened("b", "threaded_queue")
    assert (registry.live, registry.total) == (2, 2)
    registry.closed("a")
    registry.closed("a")
    assert (registry.live, registry.total) == (1, 2)


def test_snapshot_figures_and_status() -> None:
    registry = SessionRegistry()
    registry.opened("s1", "home")
    queue = JobQueue(workers=2, max_waiting=7).start()
    probe = LoopLagProbe()
    snap = take_snapshot(registry, probe, queue, time.monotonic() - 3, lag_threshold_ms=100)
    assert snap.status == "ok" and snap.reasons == []
    assert (snap.sessions, snap.workers_total, snap.workers_alive) == (1, 2, 2)
    assert (snap.workers_busy, snap.jobs_waiting, snap.jobs_max_waiting) == (0, 0, 7)
    assert snap.threads >= 3 and snap.rss_mib > 10 and 3 <= snap.uptime_s < 10
    assert set(snap.versions) == {"panel", "bokeh"}
    assert snap.line() == "1 session · lag p99 0 ms · workers 0/2 · 0 waiting"
    assert snap.as_dict()["loop_lag"]["p99_ms"] == 0.0
    queue.shutdown()


def test_snapshot_is_degraded_by_lag_or_a_dead_worker(loop) -> None:
    probe = LoopLagProbe(interval=0.01, window=5)
    run_on(loop, probe.start, loop)
    run_on(loop, time.sleep, 0.2)
    wait_for_samples(probe, 20)
    queue = JobQueue(workers=2)  # never started: no worker is alive
    snap = take_snapshot(SessionRegistry(), probe, queue, time.monotonic(), lag_threshold_ms=50)
    assert snap.status == "degraded"
    assert any(r.startswith("event-loop lag p99") for r in snap.reasons)
    assert "only 0 of 2 workers are alive" in snap.reasons
    probe.stop()


def test_rss_is_read() -> None:
    assert rss_bytes() > 10 * 2**20
