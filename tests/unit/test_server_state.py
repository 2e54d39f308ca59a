"""The loop-lag probe and the server snapshot."""

from __future__ import annotations

import asyncio
import gc
import threading
import time

from queue_helpers import thread_queue

from app.core.gc_pauses import GcPauses
from app.core.jobs import QueueStats
from app.core.loop_lag import LoopLagProbe
from app.core.server_state import rss_bytes, take_snapshot
from tests.support.waiting import wait_until


def run_on(loop: asyncio.AbstractEventLoop, function, *args):
    """Run function(*args) on the loop's thread and return its result."""
    return asyncio.run_coroutine_threadsafe(_call(function, *args), loop).result(5)


async def _call(function, *args):
    return function(*args)


def wait_for_samples(probe: LoopLagProbe, n: int) -> None:
    wait_until(lambda: probe.stats().samples, lambda s: s >= n, 5, "the probe ticks")


def test_an_idle_loop_shows_far_less_lag_than_a_blocked_one(loop) -> None:
    probe = LoopLagProbe(interval=0.01, window=5)
    run_on(loop, probe.start, loop)
    wait_for_samples(probe, 20)
    idle = probe.stats()
    run_on(loop, time.sleep, 0.3)
    wait_for_samples(probe, 60)
    # A machine busy with other work delays some ticks, but the median tick of an idle loop is
    # far from a block (of 300 ms here).
    assert idle.p50_ms < 100 < probe.stats().max_ms
    probe.stop()


def test_a_blocked_loop_shows_about_the_block(loop) -> None:
    probe = LoopLagProbe(interval=0.01, window=5)
    run_on(loop, probe.start, loop)
    wait_for_samples(probe, 5)
    run_on(loop, time.sleep, 0.3)  # a callback that blocks the loop, as blocking code does
    wait_for_samples(probe, 40)
    stats = probe.stats()
    assert stats.max_ms >= 250  # about the block (more if the machine is busy)
    assert stats.p99_ms >= 200  # the freeze counts for every tick it delayed, not just one
    wait_for_samples(probe, stats.samples + 3)  # a few ticks after the freeze's burst of samples
    assert probe.stats(window=0.001).samples <= 1  # a short window forgets it
    probe.stop()


def test_stats_before_the_first_tick_are_zero() -> None:
    stats = LoopLagProbe().stats()
    assert (stats.p99_ms, stats.max_ms, stats.samples) == (0.0, 0.0, 0)


def test_snapshot_figures_and_status() -> None:
    queue = thread_queue(2, max_waiting=7).start()
    wait_until(lambda: queue.stats().alive_workers, lambda n: n == 2)
    snap = take_snapshot(
        replica="r1", sessions=(1, 3), lag=LoopLagProbe().stats(), gc=GcPauses().stats(),
        ended_sessions=(5, 1), pool=queue.stats(),
        started_at=time.monotonic() - 3, lag_threshold_ms=100, not_ready=[],
    )  # fmt: skip
    assert (snap.status, snap.ready, snap.reasons) == ("ok", True, [])
    assert (snap.replica, snap.backend, snap.sessions, snap.sessions_total) == (
        "r1", "threads", 1, 3,
    )  # fmt: skip
    assert (snap.workers_total, snap.workers_alive, snap.workers_busy) == (2, 2, 0)
    assert (snap.jobs_waiting, snap.jobs_max_waiting, snap.cluster_waiting) == (0, 7, None)
    assert (snap.ended_sessions_freed_young, snap.ended_sessions_left_old) == (5, 1)
    assert snap.threads >= 3 and snap.rss_mib > 10 and 3 <= snap.uptime_s < 60
    assert set(snap.versions) == {"panel", "bokeh"}
    assert snap.line() == "1 session · lag p99 0 ms · workers 0/2 · 0 waiting"
    assert snap.as_dict()["loop_lag"]["p99_ms"] == 0.0
    assert snap.public() == {"status": "ok", "ready": True}
    queue.shutdown()


def test_lag_and_backend_problems_degrade_but_only_not_ready_reasons_unready(loop) -> None:
    probe = LoopLagProbe(interval=0.01, window=5)
    run_on(loop, probe.start, loop)
    run_on(loop, time.sleep, 0.2)
    wait_for_samples(probe, 20)
    pool = QueueStats(
        backend="threads", workers=2, alive_workers=1, busy_workers=0, running=0, queued=0,
        max_waiting=10, submitted=0, done=0, failed=0, cancelled=0, closed=False,
        problems=("1 of 2 workers died and are being replaced",),
    )  # fmt: skip
    kwargs = dict(replica="r", sessions=(0, 0), lag=probe.stats(), gc=GcPauses().stats(),
                  ended_sessions=(0, 0), pool=pool, started_at=0.0,
                  lag_threshold_ms=50)  # fmt: skip
    busy = take_snapshot(**kwargs, not_ready=[])
    assert (busy.status, busy.ready) == ("degraded", True)  # degraded, still serving
    assert busy.reasons[0].startswith("event-loop lag p99")
    assert busy.reasons[1] == "1 of 2 workers died and are being replaced"
    draining = take_snapshot(**kwargs, not_ready=["shutting down"])
    assert (draining.ready, draining.reasons[0]) == (False, "shutting down")
    probe.stop()


def test_rss_is_read() -> None:
    assert rss_bytes() > 10 * 2**20


def test_gc_pauses_are_timed() -> None:
    pauses = GcPauses()
    pauses.start()
    try:
        gc.collect()
        gc.collect(0)
    finally:
        pauses.stop()
    stats = pauses.stats()
    assert stats.collections >= 2 and stats.oldest_generation >= 1
    assert 0 < stats.max_ms <= stats.total_ms
    gc.collect()
    assert pauses.stats().collections == stats.collections  # stopped: no longer timed


def test_reading_gc_pauses_cannot_deadlock_with_a_collection() -> None:
    # A collection may start inside stats() itself (it allocates): the callback must not wait
    # for anything stats() holds. Force collections from inside the reading, many times.
    pauses = GcPauses()
    pauses.start()
    old = gc.get_threshold()
    gc.set_threshold(1, 1, 1)  # a collection at almost every allocation

    def read() -> None:
        for _ in range(200):
            pauses.stats()

    reader = threading.Thread(target=read, daemon=True)  # a deadlock must fail, not hang
    try:
        reader.start()
        reader.join(10)
    finally:
        gc.set_threshold(*old)
        pauses.stop()
    assert not reader.is_alive(), "reading the pauses deadlocked with a collection"
    assert pauses.stats().collections > 0
