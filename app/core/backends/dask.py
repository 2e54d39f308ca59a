"""The Dask backend: jobs run as tasks of a Dask distributed cluster that every replica of the
app shares, in one first-come first-served line across the cluster.

What the cluster needs: the scheduler and every worker can import this app (the scheduler
unpickles each job's task, and so imports app.core.backends.dask_task and app.core.work) with
the same dask and distributed; the scheduler runs with `worker-saturation: 1.0`, so that a
worker thread takes one job and the rest wait, in order, in the scheduler's queue; preferably
`allowed-failures: 0` (see the last fault below).

How a job goes:

- The queue hands a job over (`run`, from any thread, its lock held): the backend only records
  it and wakes its pump on the server's loop. The pump takes one lease of the cluster-wide bound
  (a `distributed.Semaphore` shared by every replica) and submits the job as one root-ish task
  (`_data_producer=True`, `fifo_timeout=0`), which the scheduler keeps in its own queue until a
  worker thread is free. The job stays "queued" until its task says it started.
- The task (app/core/backends/dask_task.py) reports `started` and its progress through
  `Worker.log_event` on this replica's topic, which the one asynchronous `Client` of the process
  receives on the loop; it waits on the job's `distributed.Event` to learn of a cancel; its
  outcome is the task's result. The lease is given back when the task's future resolves.
- Cancel: a job that has not started ends cancelled at once, its future is cancelled and its
  Event set (a task sent to a worker in that moment ends at its first look); a running one has
  its Event set and ends cancelled at its next check. Events set are cleared again afterwards.
- `free_slots` is what is left of the cluster-wide bound (leases held by every replica, read
  from the scheduler at most every REFRESH_SECONDS, plus what this replica took since), so the
  jobs beyond it wait in the queue's own line here. One call to the scheduler per refresh
  also returns the cluster's figures (`stats`) and the places of this replica's jobs in the
  cluster's line (`positions`); the queue hears `room()` when either changes.

Faults:

- Cluster not reachable (at start or later): `unavailable()` says so, so that the queue refuses
  new jobs with that reason, and `stats().problems` says it, so that /health says degraded;
  nothing falls back to threads. The backend tries again with a bounded backoff, and logs once
  per change of state, not once per try.
- Connection lost: every job handed over and not finished ends failed ("the Dask cluster
  connection was lost ...") exactly once. When the client is back (it reconnects by itself
  for `connect_timeout` seconds, after which the backend makes a new one), the topic is
  subscribed again and a new Semaphore is made (the old one's lease refresh is stopped, or it
  would recreate stale leases on the new scheduler).
- A job that raises, even `SystemExit` (which would end a Dask worker process): the task catches
  it, the job fails with the reason ("SystemExit: 3"), the worker process lives on (same pid).
- A worker process that dies while running a job (SIGKILL, the OOM killer): by default the
  scheduler runs the task again on another worker, silently. The backend does not allow that:
  the job fails ("its Dask worker died while running it (dask worker ..., pid N); it is not
  run again"), and the second run is told to stop through the job's Event, its future
  cancelled. Measured with LocalCluster worker processes under a nanny (dask 2026.8.0),
  from the SIGKILL until the job failed:
  - `allowed-failures: 3` (the default) or 1, another worker idle: the scheduler starts the
    task again on it at once, and its second `started` fails the job (0.02-0.10 s); that second
    run does begin (the first steps of a job may happen twice) and ends at its next look at the
    Event;
  - the default, no other worker free (busy, or the only one, restarting): the task waits in
    the scheduler's queue marked suspicious; the refresh sees that (0.4-0.5 s) and cancels it,
    so it never runs again;
  - `allowed-failures: 0`: the future raises `KilledWorker` at once (0.01-0.03 s); nothing runs
    again. This is why the scheduler should be given `allowed-failures: 0`.
  The nanny restarts the dead worker in each case.

Where each part lives:

- here, `DaskBackend`: what the queue calls (start, free_slots, run, cancel, positions,
  unavailable, full, stats, stop);
- app/core/backends/dask_state.py: what the parts share (the jobs handed over, the connection's
  state, the cluster's figures), the room left in the bound and the places in the line;
- app/core/backends/dask_connection.py: the connection's life (connect; set up the topic, the
  plugin and the bound; watch it and refresh the cluster's figures; lose it and reconnect);
- app/core/backends/dask_pump.py: the jobs' way through the cluster (lease, submit, the tasks'
  messages, the outcome, stopping a task, clearing its Event);
- app/core/backends/dask_stop.py: stopping for good, leaving nothing in the cluster;
- app/core/backends/dask_task.py: what runs in the cluster (a job's task, the scheduler plugin).
"""

from __future__ import annotations

import asyncio
import concurrent.futures

from app.core.backends.base import Backend, BackendStats, Cancelled, JobEvents
from app.core.backends.dask_connection import RETRY_FIRST, Connection
from app.core.backends.dask_pump import Pump
from app.core.backends.dask_state import DaskJob, DaskState, log
from app.core.backends.dask_stop import close
from app.core.jobs import Work


class DaskBackend(Backend):
    """Runs jobs on the Dask cluster at `address` for the replica named `replica`, with at most
    `max_jobs` unfinished (waiting in the cluster or running) jobs of every replica at once.

    `replica` must be stable across restarts (the pod's or host's name): it names this
    replica's progress topic, which the scheduler keeps (up to 1000 messages) until it restarts.
    `bound_name` names the bound every replica shares; they must all give the same `max_jobs`.
    `connect_timeout` bounds one connection attempt and how long a lost connection is retried by
    the client before a new one is made; `call_timeout` bounds every other call to the
    scheduler; `retry_max` caps the backoff between connection attempts; `lease_timeout` is how
    long the leases of a replica that died keep their place in the bound."""

    name = "dask"
    starts_at_once = False

    def __init__(
        self,
        address: str,
        replica: str,
        max_jobs: int,
        *,
        connect_timeout: float = 5.0,
        call_timeout: float = 5.0,
        retry_max: float = 5.0,
        lease_timeout: float = 10.0,
        bound_name: str = "panel-jobs",
    ) -> None:
        if max_jobs < 1:
            raise ValueError("a Dask backend needs a bound of at least one job")
        if not replica:
            raise ValueError("a Dask backend needs the replica's name")
        self.address = address
        self.replica = replica
        self.max_jobs = max_jobs
        self.connect_timeout = connect_timeout
        self.call_timeout = call_timeout
        self.retry_max = max(RETRY_FIRST, retry_max)
        self.lease_timeout = lease_timeout
        self.bound_name = bound_name
        self.topic = f"panel-jobs-{replica}"
        self._state = state = DaskState(self)  # reads its settings from the attributes above
        self._pump = Pump(state)
        self._connection = Connection(state, self._pump)
        self._stopped: bool | None = None  # how stop() ended, once it has
        self._closing: concurrent.futures.Future | None = None  # stop() under way

    # -- the Backend interface (any thread) --------------------------------------------------
    def start(self, events: JobEvents) -> None:
        state = self._state
        loop = asyncio.get_running_loop()
        with state.lock:
            if state.events is not None:
                return
            state.events, state.loop = events, loop
        state.pump_wake, state.kick = asyncio.Event(), asyncio.Event()
        state.main = [
            state.spawn(self._connection.supervise(), "dask-backend-connection"),
            state.spawn(self._pump.run(), "dask-backend-pump"),
        ]
        log.info(
            "dask backend started: replica %s, cluster %s, at most %d jobs in the cluster",
            self.replica, self.address, self.max_jobs,
        )  # fmt: skip

    def free_slots(self) -> int:
        with self._state.lock:
            return self._state.free()

    def run(self, job_id: int, work: Work) -> bool:
        state = self._state
        with state.lock:
            job = DaskJob(job_id, f"{state.prefix}-{job_id}", work, state.gen)
            state.jobs[job_id] = job
            state.by_key[job.key] = job
            state.launch.append(job)
            wake = state.pump_wake
        if wake is not None:
            state.soon(wake.set)
        return False

    def cancel(self, job_id: int) -> None:
        state = self._state
        with state.lock:
            job = state.jobs.get(job_id)
            if job is None or job.reported:
                return
            at_once = not job.started
            submitted = True
            if at_once:  # it waits: it ends now, whatever its task does in this moment
                job.reported = True
                state.unrank(job)
                if job in state.launch:  # not submitted: nothing to undo in the cluster
                    state.launch.remove(job)
                    state.forget(job)
                    submitted = False
        if at_once and state.events is not None:
            state.events.finished(job_id, Cancelled())
        if submitted:
            state.soon(lambda: self._pump.stop_task(job, before_start=at_once))

    def positions(self) -> dict[int, int]:
        with self._state.lock:
            return self._state.places()

    def unavailable(self) -> str | None:
        state = self._state
        with state.lock:
            if state.stopping:
                return "the Dask backend has stopped"
            if state.events is None:
                return "the Dask backend has not started"
            return None if state.ready else state.down

    def full(self) -> str | None:
        state = self._state
        with state.lock:
            if not state.ready or state.stopping or state.free() > 0:
                return None
            return f"{self.max_jobs} jobs of every server are unfinished, the most it takes"

    def stats(self) -> BackendStats:
        state = self._state
        with state.lock:
            if state.stopping or state.events is None:
                return BackendStats(workers=0, alive=0, busy=0)
            if not state.ready:
                return BackendStats(workers=0, alive=0, busy=0, problems=(str(state.down),))
            figures = state.figures
            problems = []
            if state.refresh_error:
                problems.append(state.refresh_error)
            if not figures["threads"]:
                problems.append(f"the Dask cluster at {self.address} has no workers")
            return BackendStats(
                workers=figures["threads"],
                alive=figures["alive"],
                busy=figures["busy"],
                cluster_waiting=figures["waiting"],
                problems=tuple(problems),
            )

    def stop(self, timeout: float) -> bool:
        """Close on the loop (app/core/backends/dask_stop.py). From another thread: wait for
        it, up to `timeout`. On the loop itself: the closing goes on behind, and this says False
        (not stopped yet)."""
        state = self._state
        with state.lock:
            if self._stopped is not None:
                return self._stopped
            state.stopping = True
            loop = state.loop
            if loop is not None and loop.is_running() and self._closing is None:
                self._closing = asyncio.run_coroutine_threadsafe(close(state, timeout), loop)
            closing = self._closing
        if loop is None:
            stopped = True
        elif closing is not None:
            try:
                if asyncio.get_running_loop() is loop:
                    return False  # the loop cannot wait for itself
            except RuntimeError:
                pass
            try:
                stopped = closing.result(timeout + 0.5)
            except (concurrent.futures.TimeoutError, concurrent.futures.CancelledError):
                closing.cancel()
                stopped = False
        elif not loop.is_closed():  # the loop has stopped (at exit): close on it, here
            stopped = loop.run_until_complete(close(state, timeout))
        else:
            stopped = state.client is None
        with state.lock:
            self._stopped = stopped
        log.info("dask backend stopped (%s)", "clean" if stopped else "forced")
        return stopped

    @property
    def _client(self):
        """The connection's Dask client, while it has one (the tests look at it)."""
        return self._state.client
