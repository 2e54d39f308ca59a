"""The Dask backend against a real Dask cluster, no mocks (app/core/backends/dask.py).

Most tests run an in-process LocalCluster (threads for workers) on an event loop of its own, and
one or two JobQueue replicas, each with its DaskBackend started on a loop of its own like the
server's. The last ones run worker processes, to prove that a job crosses a process boundary and
that a worker process killed mid-job fails its job instead of leaving it stuck or re-running it.
Every wait is on a condition, with a bound.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import dask
import distributed
import pytest
from queue_helpers import wait_for as queue_wait_for

from app.core.backends.dask import DaskBackend
from app.core.job_queue import JobQueue
from app.core.jobs import BackendUnavailable, ClusterFull, JobContext, JobState
from app.core.work import JobSpec
from tests.support.waiting import wait_until as support_wait_until

WAIT = 30.0  # the most any condition may take to come true (a shared, loaded machine)


# -- loops, clusters, queues ---------------------------------------------------------------------
class LoopThread:
    """An asyncio loop running in a thread of its own (the server's, or the cluster's)."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self.thread.start()

    def run(self, coro, timeout: float = WAIT):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call(self, function: Callable, *args):
        async def call():
            return function(*args)

        return self.run(call())

    def close(self) -> None:
        async def drain() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.loop.shutdown_asyncgens()

        self.run(drain())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(WAIT)
        self.loop.close()


@pytest.fixture
def server() -> Iterator[LoopThread]:
    """The server's loop, where each backend starts."""
    thread = LoopThread("server-loop")
    yield thread
    thread.close()


class Cluster:
    """A LocalCluster on a loop of its own, configured as the backend needs it."""

    def __init__(self, processes: bool = False, port: int = 0, **config) -> None:
        self.lt = LoopThread("cluster-loop")
        kwargs: dict = {"processes": processes}
        if processes or port:
            kwargs.update(host="127.0.0.1", protocol="tcp://", scheduler_port=port)
        settings = {"distributed.scheduler.worker-saturation": 1.0, **config}

        async def make():
            with dask.config.set(settings):
                return await distributed.LocalCluster(
                    n_workers=2, threads_per_worker=1, asynchronous=True,
                    # Every HTTP server on loopback: the workers' bind 0.0.0.0 by default.
                    dashboard_address="127.0.0.1:0", worker_dashboard_address="127.0.0.1:0",
                    **kwargs,
                )  # fmt: skip

        self.cluster = self.lt.run(make(), timeout=60)
        self.address = self.cluster.scheduler_address

    @property
    def scheduler(self):
        return self.cluster.scheduler

    def on_scheduler(self, function: Callable, *args):
        """Run `function(scheduler, *args)` on the scheduler's loop."""
        return self.lt.call(function, self.scheduler, *args)

    def open(self, gate: str) -> None:
        """Set the distributed Event a `Held` job waits on."""
        self.on_scheduler(lambda s: s.extensions["events"].event_set(name=gate))

    def set_events(self) -> list[str]:
        return self.on_scheduler(lambda s: sorted(s.extensions["events"]._events))

    def worker_pids(self) -> set[int]:
        return self.on_scheduler(lambda s: {ws.pid for ws in s.workers.values()})

    def close(self) -> None:
        if self.lt.loop.is_closed():
            return

        async def close() -> None:
            await self.cluster.close()

        try:
            self.lt.run(close(), timeout=60)
        finally:
            self.lt.close()


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    c = Cluster()
    yield c
    c.close()


@dataclass(frozen=True)
class Held:
    """Work that runs until the test sets the distributed Event `gate` (checking for a cancel
    meanwhile), so that a test decides when each job ends."""

    gate: str

    def __call__(self, ctx: JobContext) -> str:
        from distributed import Event

        gate = Event(self.gate)
        while not gate.wait(0.02):
            ctx.check()
        return f"{self.gate} opened"


@dataclass(frozen=True)
class Exits:
    """Work that calls sys.exit(3), which would kill a Dask worker process."""

    def __call__(self, ctx: JobContext) -> None:
        sys.exit(3)


def replica(address: str, name: str, max_jobs: int = 10, **kwargs) -> DaskBackend:
    return DaskBackend(address, name, max_jobs, connect_timeout=5.0, **kwargs)


class Counted:
    """JobEvents between the backend and its queue, counting the outcomes it gives each job."""

    def __init__(self, q: JobQueue) -> None:
        self.q = q
        self.outcomes: Counter[int] = Counter()

    def started(self, job_id: int, where: str | None) -> None:
        self.q.started(job_id, where)

    def progressed(self, job_id: int, fraction: float) -> None:
        self.q.progressed(job_id, fraction)

    def finished(self, job_id: int, outcome) -> None:
        self.outcomes[job_id] += 1
        self.q.finished(job_id, outcome)

    def room(self) -> None:
        self.q.room()


def started_queue(
    server: LoopThread, backend: DaskBackend, ready: bool = True, counted: bool = False
) -> JobQueue:
    q = JobQueue(backend, max_waiting=50, max_per_owner=50)
    if counted:  # the backend reports through the counter (the queue's start is then a no-op)
        q.counted = Counted(q)
        server.call(backend.start, q.counted)
    server.call(q.start)
    if ready:
        wait_until(backend.unavailable, lambda why: why is None, "the backend connects")
    return q


@pytest.fixture
def queues(server: LoopThread) -> Iterator[Callable[..., JobQueue]]:
    """Make started queues on the server's loop; each is shut down after the test."""
    made: list[JobQueue] = []

    def make(backend: DaskBackend, ready: bool = True, counted: bool = False) -> JobQueue:
        q = started_queue(server, backend, ready, counted)
        made.append(q)
        return q

    yield make
    for q in made:
        assert q.shutdown(grace=2.0, timeout=5.0), "the backend did not stop cleanly"


# -- waiting ---------------------------------------------------------------------------------
def wait_until(read: Callable, accept: Callable = bool, what: str = "the condition"):
    """Poll `read()` (briefly, bounded) until `accept` holds; the queue's own notifications are
    used where a job's state is awaited (wait_for)."""
    return support_wait_until(read, accept, WAIT, what)


def wait_for(q: JobQueue, job_id: int, accept: Callable, what: str = "the job"):
    return queue_wait_for(q, job_id, accept, what, timeout=WAIT)


def wait_state(q: JobQueue, job_id: int, *states: JobState):
    return wait_for(q, job_id, lambda info: info.state in states, f"job {job_id} to be {states}")


def wait_position(q: JobQueue, job_id: int, position: int):
    return wait_for(
        q, job_id, lambda i: i.state is JobState.QUEUED and i.position == position,
        f"job {job_id} at place {position}",
    )  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- tests -------------------------------------------------------------------------------------
def test_two_replicas_share_one_line_first_come_first_served(cluster, queues) -> None:
    a = queues(replica(cluster.address, "a"))
    b = queues(replica(cluster.address, "b"))
    # Both worker threads are taken by a's first two jobs.
    first = [a.submit("sa", "held", Held(f"g{n}")).id for n in (1, 2)]
    for job_id in first:
        wait_state(a, job_id, JobState.RUNNING)
    assert all(a.get(j).where.startswith("dask worker ") for j in first)
    # The rest arrive alternately from the two replicas; each waits in the cluster's one line.
    line = []
    for n, q in enumerate([a, b, a, b], start=3):
        job = q.submit("s" + ("a" if q is a else "b"), "held", Held(f"g{n}"))
        line.append((q, job.id, f"g{n}"))
        # On the scheduler before the next one is submitted: the order is the arrival order.
        wait_until(lambda q=q: q.stats().cluster_waiting, lambda n: n == len(line), "arrived")
        wait_position(q, job.id, len(line))
    for q in (a, b):
        wait_until(lambda q=q: q.stats().cluster_waiting, lambda n: n == 4, "4 waiting")
        assert q.stats().workers == 2 and q.stats().busy_workers == 2
    # Each worker that frees up takes the first in line, whichever replica it came from.
    for gate in ("g1", "g2"):
        cluster.open(gate)
    q, job_id, _ = line[0]
    wait_state(q, job_id, JobState.RUNNING)
    q, job_id, _ = line[1]
    wait_state(q, job_id, JobState.RUNNING)
    for place, (q, job_id, _) in enumerate(line[2:], start=1):
        wait_position(q, job_id, place)
        assert q.get(job_id).state is JobState.QUEUED
    cluster.open(line[0][2])
    wait_state(line[2][0], line[2][1], JobState.RUNNING)
    wait_position(line[3][0], line[3][1], 1)
    for _, _, gate in line[1:]:
        cluster.open(gate)
    for q, job_id, gate in line:
        assert wait_state(q, job_id, JobState.DONE).state is JobState.DONE
        assert q.get(job_id).result == f"{gate} opened"


def test_progress_reaches_the_queue_and_the_result_comes_back(cluster, queues) -> None:
    q = queues(replica(cluster.address, "p"))
    seen: list[float] = []
    job = q.submit("s", "io", JobSpec("io", 1.5))
    unsubscribe = q.subscribe("s", lambda: seen.append(q.get(job.id).progress))
    try:
        info = wait_state(q, job.id, JobState.DONE, JobState.FAILED)
    finally:
        unsubscribe()
    assert (info.state, info.result, info.progress) == (JobState.DONE, "waited 1.5 s", 1.0)
    assert re.fullmatch(r"dask worker \S+, pid \d+", info.where)
    # Progress messages come at most every 0.2 s: several, rising, reach the page in between.
    partial = sorted({p for p in seen if 0 < p < 1})
    assert len(partial) >= 2, seen


def test_cancel_a_waiting_job_at_once_and_a_running_one_at_its_next_check(cluster, queues) -> None:
    q = queues(replica(cluster.address, "c"))
    running = [q.submit("s", "held", Held(f"r{n}")).id for n in (1, 2)]
    for job_id in running:
        wait_state(q, job_id, JobState.RUNNING)
    waiting = q.submit("s", "held", Held("w"))
    wait_position(q, waiting.id, 1)
    assert q.cancel(waiting.id)
    # A job waiting in the cluster ends the moment it is cancelled.
    assert q.get(waiting.id).state is JobState.CANCELLED
    assert q.get(waiting.id).where is None
    assert q.cancel(running[0])
    assert wait_state(q, running[0], JobState.CANCELLED).state is JobState.CANCELLED
    # Its worker takes the next job.
    after = q.submit("s", "io", JobSpec("io", 0.1))
    assert wait_state(q, after.id, JobState.DONE).state is JobState.DONE
    cluster.open("r2")
    assert wait_state(q, running[1], JobState.DONE).state is JobState.DONE
    # The cancel Events are cleared once the tasks are over (the waiting one's after a grace).
    wait_until(cluster.set_events, lambda names: names == ["r2"], "cancel Events cleared")


def test_a_job_raising_system_exit_fails_and_the_worker_lives(cluster, queues) -> None:
    q = queues(replica(cluster.address, "x"))
    bad = q.submit("s", "exit", Exits())
    info = wait_state(q, bad.id, JobState.FAILED, JobState.DONE)
    assert (info.state, info.error) == (JobState.FAILED, "SystemExit: 3")
    good = [q.submit("s", "io", JobSpec("io", 0.1)).id for _ in range(3)]
    for job_id in good:
        assert wait_state(q, job_id, JobState.DONE).state is JobState.DONE
    stats = q.stats()
    assert (stats.workers, stats.alive_workers, stats.problems) == (2, 2, ())


def test_the_cluster_wide_bound_refuses_new_jobs_with_its_message_until_there_is_room(
    cluster, queues
) -> None:
    a = queues(replica(cluster.address, "ba", max_jobs=2, bound_name="bound-2"))
    b = queues(replica(cluster.address, "bb", max_jobs=2, bound_name="bound-2"))
    held = [a.submit("sa", "held", Held(f"b{n}")).id for n in (1, 2)]
    for job_id in held:
        wait_state(a, job_id, JobState.RUNNING)
    wait_until(b.backend.free_slots, lambda n: n == 0, "b sees the bound taken")
    assert a.backend.free_slots() == 0
    # The leases of a replica that dies free their place after the backend's lease timeout.
    timeout = cluster.on_scheduler(lambda s: s.extensions["semaphores"].lease_timeouts["bound-2"])
    assert timeout == 10.0
    # Every replica refuses a new job, with the bound's own message, and enqueues nothing.
    for q, owner in ((a, "sa"), (b, "sb")):
        with pytest.raises(ClusterFull, match=r"^The cluster is full: 2 jobs of every server "
                           r"are unfinished, the most it takes, try again shortly$"):
            q.submit(owner, "io", JobSpec("io", 0.1))
    assert b.jobs_of("sb") == [] and b.stats().queued == 0
    cluster.open("b1")
    wait_until(b.backend.full, lambda why: why is None, "room again")
    later = b.submit("sb", "io", JobSpec("io", 0.1))
    assert wait_state(b, later.id, JobState.DONE).state is JobState.DONE
    cluster.open("b2")
    assert wait_state(a, held[1], JobState.DONE).state is JobState.DONE


def test_a_lease_the_scheduler_shows_before_its_replica_knows_it_counts_once() -> None:
    """The bound's arithmetic across the two races of a lease (dask_state, "leases"): a refresh
    that sees a lease granted to this replica before the grant has reached it, and one that
    still sees a lease this replica has just given back."""
    state = DaskBackend("tcp://127.0.0.1:1", "r", max_jobs=5)._state
    state.ready = True
    state.saw_leases(["o1", "o2", "a"], own_now=[])  # a's grant is still on its way here
    state.took_lease("a")
    assert (state.others(), state.free()) == (2, 2)
    state.saw_leases(["o1", "o2", "a", "n"], own_now=["a"])  # n: granted, not heard of yet
    assert (state.others(), state.free()) == (3, 1)  # counted once, as someone's
    state.took_lease("n")
    assert (state.others(), state.free()) == (2, 1)  # still once: now as this replica's
    state.held -= 1  # `a` given back (the pump's _resolved) ...
    state.saw_leases(["o1", "o2", "a", "n"], own_now=["n"])  # ... a refresh from before that
    assert (state.others(), state.free()) == (2, 2)
    state.saw_leases(["o1", "o2", "n"], own_now=["n"])
    assert state.mine == {"n"} and state.free() == 2  # `a` is gone for good: forgotten
    state.drop_leases()  # the connection is lost
    assert (state.held, state.others(), state.mine) == (0, 0, set())


def test_a_cluster_that_cannot_be_reached_refuses_jobs_then_connects_when_it_is_up(
    server, queues
) -> None:
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    q = queues(DaskBackend(address, "u", 4, connect_timeout=0.5, retry_max=1.0), ready=False)
    why = f"the Dask cluster at {address} cannot be reached"
    wait_until(q.backend.unavailable, lambda w: w == why, "the reason")
    with pytest.raises(BackendUnavailable, match=re.escape(why)):
        q.submit("s", "io", JobSpec("io", 0.1))
    stats = q.stats()
    assert (stats.problems, stats.workers, stats.queued) == ((why,), 0, 0)
    # The scheduler comes up at that address: the backend connects by itself.
    up = Cluster(port=port)
    try:
        wait_until(q.backend.unavailable, lambda w: w is None, "connects")
        job = q.submit("s", "io", JobSpec("io", 0.2))
        assert wait_state(q, job.id, JobState.DONE).state is JobState.DONE
        assert q.stats().problems == ()
    finally:
        q.shutdown(grace=1.0, timeout=5.0)
        up.close()


@pytest.mark.parametrize("gave_up", [False, True], ids=["back-at-once", "after-giving-up"])
def test_a_lost_connection_fails_every_job_once_and_the_backend_reconnects(
    server, queues, gave_up
) -> None:
    port = free_port()
    clusters = [Cluster(port=port)]
    try:
        backend = DaskBackend(f"tcp://127.0.0.1:{port}", "l", 4, connect_timeout=1.0)
        q = queues(backend, counted=True)
        running = [q.submit("s", "held", Held(f"l{n}")).id for n in (1, 2)]
        for job_id in running:
            wait_state(q, job_id, JobState.RUNNING)
        waiting = q.submit("s", "held", Held("l3")).id
        wait_position(q, waiting, 1)
        clusters[0].close()
        for job_id in [*running, waiting]:
            info = wait_state(q, job_id, JobState.FAILED, JobState.DONE, JobState.CANCELLED)
            assert info.state is JobState.FAILED
            assert info.error.startswith("the Dask cluster connection was lost"), info.error
        why = wait_until(backend.unavailable, bool, "refuses jobs")
        assert "cannot be reached" in why and q.stats().problems == (why,)
        if gave_up:  # the client stops reconnecting after connect_timeout: a new one is made
            wait_until(lambda: backend._client, lambda c: c is None, "the client gave up")
        # Back on the same address: connected, subscribed again, a new bound.
        clusters.append(Cluster(port=port))
        wait_until(backend.unavailable, lambda w: w is None, "reconnects")
        job = q.submit("s", "io", JobSpec("io", 0.5))
        info = wait_state(q, job.id, JobState.DONE)
        assert info.where.startswith("dask worker ") and info.result == "waited 0.5 s"
        stats = q.stats()
        assert (stats.failed, stats.done, stats.problems) == (3, 1, ())
        # Each job was given exactly one outcome, also by the backend.
        assert q.counted.outcomes == {job_id: 1 for job_id in [*running, waiting, job.id]}
        assert q.shutdown(grace=1.0, timeout=5.0)
    finally:
        for c in clusters:
            c.close()


def test_shutdown_leaves_nothing_in_the_cluster(cluster, server) -> None:
    q = started_queue(server, replica(cluster.address, "z", bound_name="bound-z"))
    running = [q.submit("s", "held", Held(f"z{n}")).id for n in (1, 2)]
    for job_id in running:
        wait_state(q, job_id, JobState.RUNNING)
    waiting = q.submit("s", "held", Held("z3")).id
    wait_position(q, waiting, 1)
    assert q.shutdown(grace=0.2, timeout=5.0)
    assert {q.get(j).state for j in [*running, waiting]} == {JobState.CANCELLED}
    assert q.backend.unavailable() == "the Dask backend has stopped"
    # No task, no set Event, no lease is left behind.
    left = cluster.on_scheduler(
        lambda s: (
            len(s.tasks), sorted(s.extensions["events"]._events),
            len(s.extensions["semaphores"].leases.get("bound-z", ())),
            [c for c in s.clients if "panel-" in c],  # the backend's client is gone too
        )
    )  # fmt: skip
    assert left == (0, [], 0, [])


def test_stop_on_the_loop_closes_behind_and_a_later_stop_waits_for_it(cluster, server) -> None:
    q = started_queue(server, replica(cluster.address, "y"))
    job = q.submit("s", "io", JobSpec("io", 0.1))
    assert wait_state(q, job.id, JobState.DONE).state is JobState.DONE
    assert server.call(q.backend.stop, 5.0) is False  # the loop cannot wait for itself
    assert q.backend.unavailable() == "the Dask backend has stopped"
    assert q.backend.stop(5.0) is True
    assert q.shutdown(grace=0.5, timeout=1.0)


@pytest.fixture(params=[3, 0], ids=["allowed-failures-3", "allowed-failures-0"])
def process_cluster(request) -> Iterator[Cluster]:
    c = Cluster(processes=True, **{"distributed.scheduler.allowed-failures": request.param})
    yield c
    c.close()


def test_worker_processes_run_pickled_jobs_and_a_killed_worker_fails_its_job(
    process_cluster, queues
) -> None:
    cluster = process_cluster
    q = queues(replica(cluster.address, "k"))
    pids = cluster.worker_pids()
    ok = q.submit("s", "compute", JobSpec("compute", 0.3))
    info = wait_state(q, ok.id, JobState.DONE, JobState.FAILED)
    assert info.state is JobState.DONE, info.error
    pid = int(info.where.rsplit(" ", 1)[1])
    assert pid in pids and pid != os.getpid()
    # SystemExit in a job would kill the worker process: it fails the job instead.
    bad = q.submit("s", "exit", Exits())
    assert wait_state(q, bad.id, JobState.FAILED).error == "SystemExit: 3"
    assert cluster.worker_pids() == pids
    victim = q.submit("s", "io", JobSpec("io", 60))
    info = wait_state(q, victim.id, JobState.RUNNING)
    pid = int(info.where.rsplit(" ", 1)[1])
    assert pid in cluster.worker_pids()
    os.kill(pid, signal.SIGKILL)
    info = wait_state(q, victim.id, JobState.FAILED, JobState.DONE, JobState.CANCELLED)
    assert info.state is JobState.FAILED
    assert info.error.startswith("its Dask worker died while running it"), info.error
    # Not run again: its task leaves the cluster (the second run, if one began, is stopped).
    wait_until(
        lambda: cluster.on_scheduler(lambda s: [k for k in s.tasks if k.endswith(f"-{victim.id}")]),
        lambda keys: keys == [], "the task to be gone",
    )  # fmt: skip
    # The cluster carries on (the nanny restarts the worker).
    after = q.submit("s", "io", JobSpec("io", 0.1))
    assert wait_state(q, after.id, JobState.DONE).state is JobState.DONE
