"""The Dask backend's pump: it sends the jobs handed over to the cluster and follows each one to
its end (app/core/backends/dask.py, "How a job goes", says why it works this way).

`Pump.run` gives each job, in hand-over order, a lease of the cluster-wide bound and submits it
as one task; `on_message` hears what the task says on the replica's topic (started, progress);
the task's future gives the outcome, which goes to the queue exactly once, and the lease goes
back. A job is stopped through its `distributed.Event` (`stop_task`), which is cleared again
once its task is over.
"""

from __future__ import annotations

import asyncio
import contextlib

from app.core.backends.base import Cancelled, Done, Failed, Outcome
from app.core.backends.dask_connection import lose, lost_reason
from app.core.backends.dask_state import DaskJob, DaskState, log
from app.core.backends.dask_task import run_job

LEASE_WAIT = 1.0  # seconds a lease is waited for on the scheduler before the pump looks again
CANCEL_GRACE = 2.0  # a job cancelled before it started: its Event stays set this long


class Pump:
    """Submits the jobs handed over to the cluster, and follows them until they are over."""

    def __init__(self, state: DaskState) -> None:
        self.state = state
        self.settings = state.settings

    # -- submitting -----------------------------------------------------------------------------
    async def run(self) -> None:
        """Give each job handed over, in order, a lease of the bound, then submit it."""
        wake = self.state.pump_wake
        assert wake is not None
        while True:
            await wake.wait()
            wake.clear()
            while await self._launch_next():
                pass

    async def _launch_next(self) -> bool:
        state = self.state
        with state.lock:
            if not state.ready or not state.launch:
                return False
            sem, client, gen = state.sem, state.client, state.gen
        try:
            granted = await asyncio.wait_for(
                sem.acquire(timeout=LEASE_WAIT), LEASE_WAIT + self.settings.call_timeout
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.debug("no lease of the bound: %r", exc)
            if state.kick is not None:
                state.kick.set()  # the supervisor finds out what is wrong, and wakes this again
            return False
        with state.lock:
            if gen != state.gen or not state.ready:
                return False  # a lease of a connection that is gone
            job = state.launch.popleft() if granted and state.launch else None
            if job is not None:
                job.leased = True
                job.gen = gen  # handed over while disconnected, it belongs to this connection
                # The lease just granted is the newest one (this pump alone takes leases).
                state.took_lease(sem._leases[-1] if sem._leases else None)
        if not granted:
            return True  # the bound is full: wait on the scheduler again
        if job is None:  # cancelled while the lease was on its way
            with contextlib.suppress(Exception):
                await sem.release()
            return True
        self._submit(job, client)
        return True

    def _submit(self, job: DaskJob, client) -> None:
        from dask._task_spec import Task

        task = Task(
            job.key, run_job, job.work, job.key, self.settings.topic, job.cancel_name,
            _data_producer=True,  # root-ish: it waits in the scheduler's queue, in order
        )  # fmt: skip
        try:
            future = client.get({job.key: task}, job.key, sync=False, fifo_timeout="0ms")
        except Exception as exc:
            self.state.spawn(
                self._resolved(
                    job,
                    Failed(
                        f"it could not be sent to the Dask cluster ({type(exc).__name__}: {exc})"
                    ),
                )
            )
            return
        job.future = future
        self.state.spawn(self._await(job), f"dask-job-{job.id}")

    # -- following ------------------------------------------------------------------------------
    def on_message(self, event) -> None:
        """A message of a task on this replica's topic (on the loop, in order: keep it short)."""
        state = self.state
        _, msg = event
        if not isinstance(msg, dict):
            return
        rerun = False
        with state.lock:
            job = state.by_key.get(msg.get("key"))
            if job is None or job.reported:
                return
            kind = msg.get("kind")
            if kind == "started":
                if job.started:  # its task runs a second time: the first worker died
                    rerun = True
                else:
                    job.started = True
                    job.where = str(msg.get("where"))
                    state.unrank(job)
            elif kind != "progress" or not job.started:
                return
        if state.events is None:
            return
        if kind == "progress":
            state.events.progressed(job.id, float(msg.get("fraction", 0.0)))
        elif rerun:
            self.worker_died(job)
        else:
            state.events.started(job.id, job.where)

    def worker_died(self, job: DaskJob) -> None:
        """A worker died while running the job, and the scheduler runs it again (or would): the
        job fails, and that second run is stopped."""
        with self.state.lock:
            if job.reported:
                return
            job.reported = True
            self.state.unrank(job)
        where = f" ({job.where})" if job.where else ""
        self.state.report(
            job.id, Failed(f"its Dask worker died while running it{where}; it is not run again")
        )
        self.stop_task(job, before_start=True)

    async def _await(self, job: DaskJob) -> None:
        from distributed.client import FutureCancelledError
        from distributed.scheduler import KilledWorker

        try:
            outcome = await job.future
        except FutureCancelledError as exc:
            if exc.reason == "scheduler-connection-lost":
                outcome = Failed(lost_reason(self.state, job))
                lose(self.state)
            else:
                outcome = (
                    Cancelled()
                    if job.reported
                    else Failed(f"the Dask cluster cancelled it ({exc.reason})")
                )
        except KilledWorker:
            where = f" ({job.where})" if job.where else ""
            outcome = Failed(f"its Dask worker died while running it{where}; it is not run again")
        except Exception as exc:  # e.g. a scheduler or worker that cannot import the app
            first = next(iter(str(exc).strip().splitlines()), "")
            outcome = Failed(f"{type(exc).__name__}: {first}")
        if not isinstance(outcome, Done | Failed | Cancelled):
            outcome = Failed(f"its Dask task returned {type(outcome).__name__}")
        await self._resolved(job, outcome)

    async def _resolved(self, job: DaskJob, outcome: Outcome) -> None:
        """The job's task is over: its lease goes back to the bound, its outcome to the queue
        (unless it was told already), its Event is cleared."""
        state = self.state
        with state.lock:
            state.forget(job)
            report = not job.reported
            job.reported = True
            if report:
                state.unrank(job)
            release = job.leased and job.gen == state.gen and state.ready
            if release:
                state.held -= 1
            job.leased = False
            sem = state.sem
        future, job.future = job.future, None
        if future is not None:  # the scheduler forgets the task now, not when the GC finds it
            with contextlib.suppress(Exception):
                future.release()
        # The lease goes back before the queue hears the outcome: once the queue is idle (and
        # may stop this backend), no release is still on its way to the scheduler.
        if release and sem is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(sem.release(), self.settings.call_timeout)
        if report:
            state.report(job.id, outcome)
        if state.pump_wake is not None:
            state.pump_wake.set()
        if job.stopper is not None:
            await asyncio.wait({job.stopper}, timeout=self.settings.call_timeout)
        if job.event_set and job.gen == state.gen:
            if job.before_start:  # a task sent to a worker in that moment looks at it first
                await asyncio.sleep(CANCEL_GRACE)
            await self._clear_event(job.cancel_name)

    # -- stopping a task ------------------------------------------------------------------------
    def stop_task(self, job: DaskJob, before_start: bool) -> None:
        """Set the job's Event (a task sees it at its next check), and cancel its future when
        it has not started (on the loop)."""
        if job.future is None or job.stopper is not None:
            return
        job.before_start = job.before_start or before_start
        job.stopper = self.state.spawn(self._set_event(job, cancel_future=before_start))

    async def _set_event(self, job: DaskJob, cancel_future: bool) -> None:
        from distributed import Event

        client, call_timeout = self.state.client, self.settings.call_timeout
        if client is None or job.gen != self.state.gen or client.status != "running":
            return
        try:
            job.event_set = True
            self.state.to_clear.add(job.cancel_name)  # cleared once the task is over
            await asyncio.wait_for(Event(job.cancel_name, client=client).set(), call_timeout)
            if cancel_future:
                await asyncio.wait_for(job.future.cancel(reason="cancelled"), call_timeout)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.debug("stopping the task of job %d: %r", job.id, exc)

    async def _clear_event(self, name: str) -> None:
        from distributed import Event

        client = self.state.client
        if client is not None and client.status == "running":
            with contextlib.suppress(Exception):
                await asyncio.wait_for(
                    Event(name, client=client).clear(), self.settings.call_timeout
                )
        self.state.to_clear.discard(name)  # not before: stop() clears what was still to clear
