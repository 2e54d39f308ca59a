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
  worker thread is free (that needs `worker-saturation: 1.0` on the scheduler). The job stays
  "queued" until its task says it started.
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
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
import uuid
from collections import deque
from dataclasses import dataclass, field

from app.core.backends.base import (
    Backend,
    BackendStats,
    Cancelled,
    Done,
    Failed,
    JobEvents,
    Outcome,
)
from app.core.backends.dask_task import STATE_OP, ClusterStatePlugin, run_job
from app.core.jobs import Work

log = logging.getLogger(__name__)

REFRESH_SECONDS = 0.5  # the cluster's figures and the positions are read this often
LEASE_WAIT = 1.0  # seconds a lease is waited for on the scheduler before the pump looks again
CANCEL_GRACE = 2.0  # a job cancelled before it started: its Event stays set this long
RETRY_FIRST = 1.0  # seconds before connecting again; doubles up to `retry_max`
STOP_WAIT = 1.0  # at stop, the most running tasks get to see their Event before it is cleared
LOST = "the Dask cluster connection was lost"


@dataclass(eq=False)
class _Job:
    """A job handed over by the queue, until its task's future has resolved."""

    id: int
    key: str  # its task's key, unique to this backend
    work: Work
    gen: int  # the connection it belongs to
    future: object = None  # its task's future, once submitted
    leased: bool = False  # holds a lease of the cluster-wide bound
    started: bool = False
    where: str | None = None
    reported: bool = False  # the queue was told its outcome (exactly once)
    event_set: bool = False  # its cancel Event is set on the scheduler: clear it after
    before_start: bool = False  # stopped before it started: a task may start in that moment
    stopper: asyncio.Task | None = field(default=None, repr=False)  # setting its Event


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
        self._prefix = f"job-{replica}-{uuid.uuid4().hex[:8]}"  # keys and Events of this run
        self._lock = threading.Lock()
        self._events: JobEvents | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._jobs: dict[int, _Job] = {}  # handed over, future not resolved (hand-over order)
        self._by_key: dict[str, _Job] = {}
        self._launch: deque[_Job] = deque()  # handed over, waiting for a lease
        self._held = 0  # leases this replica holds
        self._ready = False  # connected, subscribed, bound made
        self._gen = 0  # counts connections
        self._down: str | None = f"the Dask cluster at {address} is not connected yet"
        self._refresh_error: str | None = None
        self._ranks: dict[str, int | str | None] = {}  # from the last refresh, kept current
        self._figures = {"threads": 0, "alive": 0, "busy": 0, "waiting": 0, "others": 0}
        self._stopping = False
        self._stopped: bool | None = None  # how stop() ended, once it has
        # Used on the loop only.
        self._client = None
        self._sem = None
        self._tasks: set[asyncio.Task] = set()
        self._main: list[asyncio.Task] = []
        self._pump_wake: asyncio.Event | None = None
        self._kick: asyncio.Event | None = None
        self._to_clear: set[str] = set()  # Events set and not cleared yet
        self._closing: concurrent.futures.Future | None = None  # stop() under way

    # -- the Backend interface (any thread) --------------------------------------------------
    def start(self, events: JobEvents) -> None:
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._events is not None:
                return
            self._events, self._loop = events, loop
        self._pump_wake, self._kick = asyncio.Event(), asyncio.Event()
        self._main = [
            self._spawn(self._supervise(), "dask-backend-connection"),
            self._spawn(self._pump(), "dask-backend-pump"),
        ]
        log.info(
            "dask backend started: replica %s, cluster %s, at most %d jobs in the cluster",
            self.replica, self.address, self.max_jobs,
        )  # fmt: skip

    def free_slots(self) -> int:
        with self._lock:
            return self._free()

    def run(self, job_id: int, work: Work) -> bool:
        with self._lock:
            job = _Job(job_id, f"{self._prefix}-{job_id}", work, self._gen)
            self._jobs[job_id] = job
            self._by_key[job.key] = job
            self._launch.append(job)
            wake = self._pump_wake
        if wake is not None:
            self._soon(wake.set)
        return False

    def cancel(self, job_id: int) -> None:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or job.reported:
                return
            at_once = not job.started
            submitted = True
            if at_once:  # it waits: it ends now, whatever its task does in this moment
                job.reported = True
                self._unrank(job)
                if job in self._launch:  # not submitted: nothing to undo in the cluster
                    self._launch.remove(job)
                    self._forget(job)
                    submitted = False
        if at_once and self._events is not None:
            self._events.finished(job_id, Cancelled())
        if submitted:
            self._soon(lambda: self._stop_task(job, before_start=at_once))

    def positions(self) -> dict[int, int]:
        with self._lock:
            return self._places()

    def unavailable(self) -> str | None:
        with self._lock:
            if self._stopping:
                return "the Dask backend has stopped"
            if self._events is None:
                return "the Dask backend has not started"
            return None if self._ready else self._down

    def full(self) -> str | None:
        with self._lock:
            if not self._ready or self._stopping or self._free() > 0:
                return None
            return f"{self.max_jobs} jobs of every server are unfinished, the most it takes"

    def stats(self) -> BackendStats:
        with self._lock:
            if self._stopping or self._events is None:
                return BackendStats(workers=0, alive=0, busy=0)
            if not self._ready:
                return BackendStats(workers=0, alive=0, busy=0, problems=(str(self._down),))
            figures = self._figures
            problems = []
            if self._refresh_error:
                problems.append(self._refresh_error)
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
        """Close on the loop. From another thread: wait for it, up to `timeout`. On the loop
        itself: the closing goes on behind, and this says False (not stopped yet)."""
        with self._lock:
            if self._stopped is not None:
                return self._stopped
            self._stopping = True
            loop = self._loop
            if loop is not None and loop.is_running() and self._closing is None:
                self._closing = asyncio.run_coroutine_threadsafe(self._close(timeout), loop)
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
            stopped = loop.run_until_complete(self._close(timeout))
        else:
            stopped = self._client is None
        with self._lock:
            self._stopped = stopped
        log.info("dask backend stopped (%s)", "clean" if stopped else "forced")
        return stopped

    # -- internals: state (lock held) ----------------------------------------------------------
    def _free(self) -> int:
        if not self._ready or self._stopping:
            return 0
        taken = self._figures["others"] + self._held + len(self._launch)
        return max(0, self.max_jobs - taken)

    def _places(self) -> dict[int, int]:
        """This replica's waiting jobs -> their places in the cluster's line: the scheduler's
        rank, or, for a job not on the scheduler yet (or waiting for a lease), behind everyone."""
        if not self._ready:
            return {}
        places: dict[int, int] = {}
        unknown: list[int] = []
        for job in self._jobs.values():
            if job.reported or job.started:
                continue
            rank = self._ranks.get(job.key) if job.future is not None else None
            if isinstance(rank, int):
                places[job.id] = rank
            elif rank is None:
                unknown.append(job.id)
            # else it was sent to a worker ("processing"): it is about to say it started
        last = max([self._figures["waiting"], *places.values()])
        places.update({job_id: last + n for n, job_id in enumerate(unknown, start=1)})
        return places

    def _forget(self, job: _Job) -> None:
        self._jobs.pop(job.id, None)
        self._by_key.pop(job.key, None)

    def _unrank(self, job: _Job) -> None:
        """The job left the cluster's line: everyone behind it moves up one place."""
        rank = self._ranks.pop(job.key, None)
        if isinstance(rank, int):
            for key, other in self._ranks.items():
                if isinstance(other, int) and other > rank:
                    self._ranks[key] = other - 1
            self._figures["waiting"] = max(0, self._figures["waiting"] - 1)

    def _cancel_name(self, job: _Job) -> str:
        return f"cancel-{job.key}"

    # -- internals: the loop ---------------------------------------------------------------------
    def _spawn(self, coro, name: str | None = None) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _soon(self, callback) -> None:
        """Run `callback` on the loop (from any thread; dropped once the loop is closed)."""
        loop = self._loop
        if loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop is closed: nothing runs any more
            loop.call_soon_threadsafe(callback)

    def _report(self, job_id: int, outcome: Outcome) -> None:
        if self._events is not None:
            self._events.finished(job_id, outcome)

    async def _pause(self, seconds: float) -> None:
        """Sleep up to `seconds`; woken early by a kick (a future found the connection lost)."""
        assert self._kick is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._kick.wait(), seconds)
        self._kick.clear()

    async def _supervise(self) -> None:
        """Connect, watch the connection, refresh the figures; forever, until stop."""
        delay = RETRY_FIRST
        while True:
            try:
                wait = await self._watch()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # connecting failed, or the cluster cannot be used
                self._lose()  # (only if it was connected: a fault of this backend itself)
                self._set_down(exc)
                if self._client is not None:
                    await self._discard(self._client)
                await self._pause(delay)
                delay = min(2 * delay, self.retry_max)
                continue
            if self._ready:
                delay = RETRY_FIRST
            if wait:
                await self._pause(REFRESH_SECONDS)

    async def _watch(self) -> bool:
        """One round: connect if need be, else see to the connection and refresh. Whether to
        wait before the next round."""
        client = self._client
        if client is None:
            await self._connect()
        elif client.status == "running":
            if self._ready:
                await self._refresh(client)
            else:  # it reconnected by itself
                await self._setup(client)
        elif client.status in ("connecting", "newly-created"):
            self._lose()  # it is reconnecting by itself
        else:  # it gave up reconnecting and closed: make a new one at once
            self._lose()
            await self._discard(client)
            return False
        return True

    async def _connect(self) -> None:
        from distributed import Client

        client = Client(
            self.address,
            asynchronous=True,
            timeout=self.connect_timeout,
            set_as_default=False,  # a worker in this process would use it (synchronously)
            name=f"panel-{self.replica}",
        )
        try:
            await client
            await self._setup(client)
        except BaseException:
            await self._discard(client)
            raise
        self._client = client

    async def _setup(self, client) -> None:
        """Subscribe to the topic, make the bound, read the figures: then jobs may come."""
        client.subscribe_topic(self.topic, self._on_message)
        await asyncio.wait_for(client.register_plugin(ClusterStatePlugin()), self.call_timeout)
        sem = await asyncio.wait_for(self._make_bound(client), self.call_timeout)
        try:
            info = await self._ask_scheduler(client, [], [])
        except BaseException:
            self._drop_bound(sem)
            raise
        with self._lock:
            self._gen += 1
            self._sem = sem
            self._ready = True
            self._down = None
            self._refresh_error = None
            self._ranks = {}
            self._figures = {k: info[k] for k in self._figures}
        log.info(
            "connected to the Dask cluster at %s: %d worker threads, %d jobs waiting there",
            self.address, info["threads"], info["waiting"],
        )  # fmt: skip
        if self._events is not None:
            self._events.room()

    async def _make_bound(self, client):
        import dask
        from distributed import Semaphore

        # The lease timeout is the registering client's; its refresh period is a fifth of it.
        with dask.config.set({"distributed.scheduler.locks.lease-timeout": self.lease_timeout}):
            sem = Semaphore(
                max_leases=self.max_jobs,
                name=self.bound_name,
                scheduler_rpc=client.scheduler,
                loop=client.loop,
            )
            try:
                await sem
            except BaseException:
                self._drop_bound(sem)
                raise
        return sem

    @staticmethod
    def _drop_bound(sem) -> None:
        """Stop a Semaphore for good: its periodic refresh would otherwise recreate its stale
        leases on a new scheduler, or fail forever on a closed client."""
        if sem is None:
            return
        sem.refresh_leases = False
        sem._leases.clear()
        callback = getattr(sem, "refresh_callback", None)
        if callback is not None:
            callback.stop()
            # A new Semaphore starts its refresh with a callback on the loop: stop it after.
            with contextlib.suppress(RuntimeError):
                asyncio.get_running_loop().call_soon(callback.stop)

    async def _discard(self, client) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.close(), self.call_timeout)
        if self._client is client:
            self._client = None

    def _set_down(self, exc: BaseException) -> None:
        """Not connected, or connected but unusable: say why, once per change."""
        detail = f"{type(exc).__name__}: {next(iter(str(exc).strip().splitlines()), '')}"
        if isinstance(exc, OSError | TimeoutError):
            why = f"the Dask cluster at {self.address} cannot be reached"
            logged = f"{why} ({detail})"
        else:
            if isinstance(exc, ImportError):
                detail += "; its scheduler and workers need this app installed"
            why = logged = f"the Dask cluster at {self.address} cannot be used ({detail})"
        with self._lock:
            changed = why != self._down
            self._ready = False
            self._down = why
        if changed:
            log.warning("%s; trying again every few seconds", logged)

    def _lose(self) -> None:
        """The connection is gone: every job handed over fails, once; submit refuses."""
        with self._lock:
            if not self._ready:
                return
            self._ready = False
            self._down = f"the Dask cluster at {self.address} cannot be reached"
            lost = [job for job in self._jobs.values() if not job.reported]
            for job in self._jobs.values():
                job.reported = True
                job.leased = False
            for job in list(self._launch):
                self._forget(job)
            self._launch.clear()
            self._held = 0
            self._ranks = {}
            self._figures = dict.fromkeys(self._figures, 0)
            sem, self._sem = self._sem, None
        self._drop_bound(sem)
        self._to_clear.clear()  # the scheduler's Events are gone with it
        log.warning(
            "lost the connection to the Dask cluster at %s: %d unfinished jobs failed; "
            "reconnecting", self.address, len(lost),
        )  # fmt: skip
        for job in lost:
            self._report(job.id, Failed(self._lost_reason(job)))

    def _lost_reason(self, job: _Job) -> str:
        when = "while it ran" if job.started else "before it started"
        return f"{LOST} {when} (scheduler {self.address})"

    async def _ask_scheduler(self, client, keys: list[str], lease_ids: list[str]) -> dict:
        """One call: the cluster's figures and the places of `keys` (dask_task.cluster_state)."""
        ask = getattr(client.scheduler, STATE_OP)
        return await asyncio.wait_for(
            ask(keys=keys, lease_ids=lease_ids, semaphore=self.bound_name), self.call_timeout
        )

    async def _refresh(self, client) -> None:
        """Read the cluster's figures and the places of this replica's jobs (one call)."""
        with self._lock:
            gen = self._gen
            keys = [j.key for j in self._jobs.values() if j.future is not None and not j.reported]
            lease_ids = list(self._sem._leases) if self._sem is not None else []
            waiting_here = bool(self._launch)
        try:
            info = await self._ask_scheduler(client, keys, lease_ids)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if client.status != "running":
                return  # the loss is dealt with on the next round
            why = f"the Dask scheduler at {self.address} does not answer ({type(exc).__name__})"
            with self._lock:
                changed = why != self._refresh_error
                self._refresh_error = why
            if changed:
                log.warning("%s: %s", why, exc)
            return
        with self._lock:
            if gen != self._gen or not self._ready:
                return
            recovered = self._refresh_error is not None
            before = (self._free(), self._places(), dict(self._figures))
            self._refresh_error = None
            self._ranks = {k: v for k, v in info["ranks"].items() if k in self._by_key}
            self._figures = {k: info[k] for k in self._figures}
            after = (self._free(), self._places(), dict(self._figures))
            died = [
                job for key in info["died"]
                if (job := self._by_key.get(key)) is not None and not job.reported
            ]  # fmt: skip
        if recovered:
            log.info("the Dask scheduler at %s answers again", self.address)
        for job in died:
            self._worker_died(job)
        if before != after and self._events is not None:
            self._events.room()  # room, places or the cluster's figures changed
        if waiting_here and self._pump_wake is not None:
            self._pump_wake.set()

    def _on_message(self, event) -> None:
        """A message of a task on this replica's topic (on the loop, in order: keep it short)."""
        _, msg = event
        if not isinstance(msg, dict):
            return
        rerun = False
        with self._lock:
            job = self._by_key.get(msg.get("key"))
            if job is None or job.reported:
                return
            kind = msg.get("kind")
            if kind == "started":
                if job.started:  # its task runs a second time: the first worker died
                    rerun = True
                else:
                    job.started = True
                    job.where = str(msg.get("where"))
                    self._unrank(job)
            elif kind != "progress" or not job.started:
                return
        if self._events is None:
            return
        if kind == "progress":
            self._events.progressed(job.id, float(msg.get("fraction", 0.0)))
        elif rerun:
            self._worker_died(job)
        else:
            self._events.started(job.id, job.where)

    def _worker_died(self, job: _Job) -> None:
        """A worker died while running the job, and the scheduler runs it again (or would): the
        job fails, and that second run is stopped."""
        with self._lock:
            if job.reported:
                return
            job.reported = True
            self._unrank(job)
        where = f" ({job.where})" if job.where else ""
        self._report(
            job.id, Failed(f"its Dask worker died while running it{where}; it is not run again")
        )
        self._stop_task(job, before_start=True)

    def _stop_task(self, job: _Job, before_start: bool) -> None:
        """Set the job's Event (a task sees it at its next check), and cancel its future when
        it has not started (on the loop)."""
        if job.future is None or job.stopper is not None:
            return
        job.before_start = job.before_start or before_start
        job.stopper = self._spawn(self._set_event(job, cancel_future=before_start))

    async def _set_event(self, job: _Job, cancel_future: bool) -> None:
        from distributed import Event

        client = self._client
        if client is None or job.gen != self._gen or client.status != "running":
            return
        try:
            job.event_set = True
            self._to_clear.add(self._cancel_name(job))  # cleared once the task is over
            await asyncio.wait_for(
                Event(self._cancel_name(job), client=client).set(), self.call_timeout
            )
            if cancel_future:
                await asyncio.wait_for(job.future.cancel(reason="cancelled"), self.call_timeout)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.debug("stopping the task of job %d: %r", job.id, exc)

    async def _pump(self) -> None:
        """Give each job handed over, in order, a lease of the bound, then submit it."""
        assert self._pump_wake is not None
        while True:
            await self._pump_wake.wait()
            self._pump_wake.clear()
            while await self._launch_next():
                pass

    async def _launch_next(self) -> bool:
        with self._lock:
            if not self._ready or not self._launch:
                return False
            sem, client, gen = self._sem, self._client, self._gen
        try:
            granted = await asyncio.wait_for(
                sem.acquire(timeout=LEASE_WAIT), LEASE_WAIT + self.call_timeout
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.debug("no lease of the bound: %r", exc)
            if self._kick is not None:
                self._kick.set()  # the supervisor finds out what is wrong, and wakes this again
            return False
        with self._lock:
            if gen != self._gen or not self._ready:
                return False  # a lease of a connection that is gone
            job = self._launch.popleft() if granted and self._launch else None
            if job is not None:
                job.leased = True
                job.gen = gen  # handed over while disconnected, it belongs to this connection
                self._held += 1
        if not granted:
            return True  # the bound is full: wait on the scheduler again
        if job is None:  # cancelled while the lease was on its way
            with contextlib.suppress(Exception):
                await sem.release()
            return True
        self._submit(job, client)
        return True

    def _submit(self, job: _Job, client) -> None:
        from dask._task_spec import Task

        task = Task(
            job.key, run_job, job.work, job.key, self.topic, self._cancel_name(job),
            _data_producer=True,  # root-ish: it waits in the scheduler's queue, in order
        )  # fmt: skip
        try:
            future = client.get({job.key: task}, job.key, sync=False, fifo_timeout="0ms")
        except Exception as exc:
            self._spawn(
                self._resolved(
                    job,
                    Failed(
                        f"it could not be sent to the Dask cluster ({type(exc).__name__}: {exc})"
                    ),
                )
            )
            return
        job.future = future
        self._spawn(self._await(job), f"dask-job-{job.id}")

    async def _await(self, job: _Job) -> None:
        from distributed.client import FutureCancelledError
        from distributed.scheduler import KilledWorker

        try:
            outcome = await job.future
        except FutureCancelledError as exc:
            if exc.reason == "scheduler-connection-lost":
                outcome = Failed(self._lost_reason(job))
                self._lose()
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

    async def _resolved(self, job: _Job, outcome: Outcome) -> None:
        """The job's task is over: its outcome goes to the queue (unless it was told already),
        its lease back to the bound, its Event cleared."""
        with self._lock:
            self._forget(job)
            report = not job.reported
            job.reported = True
            if report:
                self._unrank(job)
            release = job.leased and job.gen == self._gen and self._ready
            if release:
                self._held -= 1
            job.leased = False
            sem = self._sem
        future, job.future = job.future, None
        if future is not None:  # the scheduler forgets the task now, not when the GC finds it
            with contextlib.suppress(Exception):
                future.release()
        if report:
            self._report(job.id, outcome)
        if release and sem is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(sem.release(), self.call_timeout)
        if self._pump_wake is not None:
            self._pump_wake.set()
        if job.stopper is not None:
            await asyncio.wait({job.stopper}, timeout=self.call_timeout)
        if job.event_set and job.gen == self._gen:
            name = self._cancel_name(job)
            if job.before_start:  # a task sent to a worker in that moment looks at it first
                await asyncio.sleep(CANCEL_GRACE)
            await self._clear_event(name)

    async def _clear_event(self, name: str) -> None:
        from distributed import Event

        client = self._client
        if client is not None and client.status == "running":
            with contextlib.suppress(Exception):
                await asyncio.wait_for(Event(name, client=client).clear(), self.call_timeout)
        self._to_clear.discard(name)  # not before: stop() clears what was still to clear

    async def _close(self, timeout: float) -> bool:
        """Stop for good, on the loop: what still runs in the cluster is told to stop, leases go
        back, Events are cleared, the client closes. Whether it all happened in `timeout`."""
        try:
            return await asyncio.wait_for(self._close_steps(min(STOP_WAIT, timeout / 3)), timeout)
        except TimeoutError:
            return False
        finally:
            for task in list(self._tasks):
                task.cancel()
            self._drop_bound(self._sem)
            self._sem = None

    async def _close_steps(self, stop_wait: float) -> bool:
        from distributed import Event

        current = asyncio.current_task()
        for task in self._main:
            task.cancel()
        await asyncio.gather(*self._main, return_exceptions=True)
        with self._lock:
            self._ready = False
            jobs = [job for job in self._jobs.values() if job.future is not None]
            self._launch.clear()
        client, sem = self._client, self._sem
        if client is not None and client.status == "running":
            # Whatever still runs stops at its next check; whatever waits leaves the line.
            await asyncio.gather(
                *(Event(self._cancel_name(job), client=client).set() for job in jobs),
                *(job.future.cancel(reason="stopped") for job in jobs if not job.started),
                return_exceptions=True,
            )
            futures = [job.future for job in jobs if job.future is not None]
            if futures:  # tasks that see their Event end within a few ms
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        asyncio.gather(*(_settled(f) for f in futures)), stop_wait
                    )
            # The Event of a task still running stays set, so that it stops at its next check.
            running = [job for job in jobs if job.future is not None and not job.future.done()]
            self._to_clear.update(self._cancel_name(job) for job in jobs if job not in running)
            self._to_clear.difference_update(self._cancel_name(job) for job in running)
            if running:
                log.warning(
                    "%d Dask tasks had not stopped when the backend stopped: their cancel "
                    "Events stay set on the scheduler", len(running),
                )  # fmt: skip
            others = [t for t in self._tasks if t is not current]
            for task in others:
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)
            releases = len(sem._leases) if sem is not None else 0
            await asyncio.gather(
                *(sem.release() for _ in range(releases)),
                *(Event(name, client=client).clear() for name in self._to_clear),
                return_exceptions=True,
            )
            self._to_clear.clear()
            with contextlib.suppress(Exception):
                client.unsubscribe_topic(self.topic)
        self._drop_bound(sem)
        self._sem = None
        if client is not None:
            await client.close()
            self._client = None
        return True


async def _settled(future) -> None:
    """Wait for a Dask future to resolve, whatever its outcome."""
    with contextlib.suppress(Exception):
        await future
