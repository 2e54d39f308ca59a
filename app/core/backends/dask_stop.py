"""How the Dask backend stops for good, on the server's loop (`DaskBackend.stop` runs `close`):
what still runs in the cluster is told to stop, what waits there leaves the line, the leases go
back to the bound, the Events are cleared, and the client closes, so that nothing of this
replica is left on the scheduler.
"""

from __future__ import annotations

import asyncio
import contextlib

from app.core.backends.dask_connection import drop_bound
from app.core.backends.dask_state import DaskState, log

STOP_WAIT = 1.0  # at stop, the most running tasks get to see their Event before it is cleared


async def close(state: DaskState, timeout: float) -> bool:
    """Stop for good, on the loop: what still runs in the cluster is told to stop, leases go
    back, Events are cleared, the client closes. Whether it all happened in `timeout`."""
    try:
        return await asyncio.wait_for(_close_steps(state, min(STOP_WAIT, timeout / 3)), timeout)
    except TimeoutError:
        return False
    finally:
        for task in list(state.tasks):
            task.cancel()
        drop_bound(state.sem)
        state.sem = None


async def _close_steps(state: DaskState, stop_wait: float) -> bool:
    from distributed import Event

    current = asyncio.current_task()
    for task in state.main:
        task.cancel()
    await asyncio.gather(*state.main, return_exceptions=True)
    with state.lock:
        state.ready = False
        jobs = [job for job in state.jobs.values() if job.future is not None]
        state.launch.clear()
    client, sem = state.client, state.sem
    if client is not None and client.status == "running":
        # Whatever still runs stops at its next check; whatever waits leaves the line.
        await asyncio.gather(
            *(Event(job.cancel_name, client=client).set() for job in jobs),
            *(job.future.cancel(reason="stopped") for job in jobs if not job.started),
            return_exceptions=True,
        )
        futures = [job.future for job in jobs if job.future is not None]
        if futures:  # tasks that see their Event end within a few ms
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*(_settled(f) for f in futures)), stop_wait)
        # The Event of a task still running stays set, so that it stops at its next check.
        running = [job for job in jobs if job.future is not None and not job.future.done()]
        state.to_clear.update(job.cancel_name for job in jobs if job not in running)
        state.to_clear.difference_update(job.cancel_name for job in running)
        if running:
            log.warning(
                "%d Dask tasks had not stopped when the backend stopped: their cancel "
                "Events stay set on the scheduler", len(running),
            )  # fmt: skip
        others = [t for t in state.tasks if t is not current]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)
        releases = len(sem._leases) if sem is not None else 0
        await asyncio.gather(
            *(sem.release() for _ in range(releases)),
            *(Event(name, client=client).clear() for name in state.to_clear),
            return_exceptions=True,
        )
        state.to_clear.clear()
        with contextlib.suppress(Exception):
            client.unsubscribe_topic(state.settings.topic)
    drop_bound(sem)
    state.sem = None
    if client is not None:
        await client.close()
        state.client = None
    return True


async def _settled(future) -> None:
    """Wait for a Dask future to resolve, whatever its outcome."""
    with contextlib.suppress(Exception):
        await future
