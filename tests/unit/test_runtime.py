"""The runtime's life on an event loop: start, figures, and a drain that leaves no job without
its final state (app/runtime.py)."""

from __future__ import annotations

import asyncio

import pytest
from queue_helpers import WAIT, Gate

from app.core.jobs import JobState, QueueClosed
from app.runtime import Runtime
from app.settings import Settings
from tests.support.waiting import wait_until


def on_loop(loop: asyncio.AbstractEventLoop, function, *args):
    async def call():
        result = function(*args)
        return await result if asyncio.iscoroutine(result) else result

    return asyncio.run_coroutine_threadsafe(call(), loop).result(WAIT * 2)


def settings(**env: str) -> Settings:
    return Settings.from_env({"QUEUE_WORKERS": "1", "SHUTDOWN_GRACE_SECONDS": "0.2", **env})


def test_a_runtime_is_not_ready_until_started_and_starts_once(loop) -> None:
    runtime = Runtime(settings(REPLICA_NAME="replica-7"))
    before = runtime.snapshot()
    assert (before.ready, before.reasons, before.workers_alive) == (False, ["starting"], 0)
    on_loop(loop, runtime.start)
    on_loop(loop, runtime.start)
    wait_until(lambda: runtime.snapshot(lag_window=1).workers_alive, lambda n: n == 1)
    after = runtime.snapshot(lag_window=1)
    assert (after.ready, after.status, after.replica, after.backend) == (
        True, "ok", "replica-7", "threads",
    )  # fmt: skip
    wait_until(lambda: runtime.probe.stats().samples, lambda n: n > 0, WAIT, "the probe ticks")
    runtime.stop()
    runtime.stop()


def test_terminate_gives_every_job_a_final_state_and_refuses_new_ones(loop) -> None:
    runtime = Runtime(settings())
    on_loop(loop, runtime.start)
    queue = runtime.queue
    gate = Gate()
    running = queue.submit("s", "gate", gate)
    assert gate.started.wait(WAIT)
    waiting = queue.submit("s", "gate", Gate())
    on_loop(loop, runtime.terminate)
    assert runtime.phase == "stopped"
    assert runtime.snapshot(lag_window=1).ready is False
    assert queue.get(waiting.id).state is JobState.CANCELLED
    # The running job honours its cancel token once its grace is over.
    assert queue.get(running.id).state is JobState.CANCELLED
    with pytest.raises(QueueClosed):
        queue.submit("s", "gate", Gate())
