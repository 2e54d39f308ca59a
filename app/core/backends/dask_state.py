"""What the parts of the Dask backend share (app/core/backends/dask.py says how it works): the
jobs handed over and how far each got, the connection's state, the cluster's figures, and the
few helpers that run things on the server's loop.

The first group of fields is used from any thread under `lock`, and so are the methods that
keep them (`free`, `places`, `forget`, `unrank`: the caller holds the lock); the second group is
used on the loop only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Protocol

from app.core.backends.base import JobEvents, Outcome
from app.core.jobs import Work

# The backend's one logger, whichever of its parts logs (the log shows this name).
log = logging.getLogger("app.core.backends.dask")


class DaskSettings(Protocol):
    """What the parts read of the backend's settings (DaskBackend's attributes)."""

    address: str
    replica: str
    max_jobs: int
    connect_timeout: float
    call_timeout: float
    retry_max: float
    lease_timeout: float
    bound_name: str
    topic: str


@dataclass(eq=False)
class DaskJob:
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

    @property
    def cancel_name(self) -> str:
        """The name of its `distributed.Event`, which its task waits on to learn of a cancel."""
        return f"cancel-{self.key}"


class DaskState:
    """The state of one Dask backend, which its connection, its pump and its stop share."""

    def __init__(self, settings: DaskSettings) -> None:
        self.settings = settings
        # The keys of this run's tasks and the names of their Events start with it.
        self.prefix = f"job-{settings.replica}-{uuid.uuid4().hex[:8]}"
        self.lock = threading.Lock()
        # Under `lock`, from any thread.
        self.events: JobEvents | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.jobs: dict[int, DaskJob] = {}  # handed over, future not resolved (hand-over order)
        self.by_key: dict[str, DaskJob] = {}
        self.launch: deque[DaskJob] = deque()  # handed over, waiting for a lease
        self.held = 0  # leases this replica holds
        # Lease ids of the bound: those the last refresh saw on the scheduler, and this
        # replica's own among them or taken since (see `others`).
        self.seen: frozenset[str] = frozenset()
        self.mine: set[str] = set()
        self.ready = False  # connected, subscribed, bound made
        self.gen = 0  # counts connections
        self.down: str | None = f"the Dask cluster at {settings.address} is not connected yet"
        self.refresh_error: str | None = None
        self.ranks: dict[str, int | str | None] = {}  # from the last refresh, kept current
        self.figures = {"threads": 0, "alive": 0, "busy": 0, "waiting": 0}
        self.stopping = False
        # On the loop only.
        self.client = None
        self.sem = None  # the cluster-wide bound: a `distributed.Semaphore`
        self.tasks: set[asyncio.Task] = set()
        self.main: list[asyncio.Task] = []  # the connection's supervisor and the pump
        self.pump_wake: asyncio.Event | None = None
        self.kick: asyncio.Event | None = None  # wakes the supervisor early
        self.to_clear: set[str] = set()  # Events set and not cleared yet

    # -- the jobs (lock held) -------------------------------------------------------------------
    def free(self) -> int:
        if not self.ready or self.stopping:
            return 0
        taken = self.others() + self.held + len(self.launch)
        return max(0, self.settings.max_jobs - taken)

    # -- leases (lock held) ---------------------------------------------------------------------
    # The bound counts the leases of every replica: this replica's own as `held`, the others'
    # as of the last refresh. A lease is granted on the scheduler before its id reaches this
    # replica, so a refresh can see it before `took_lease` does. Told apart by id, it counts
    # once; told apart by a count the scheduler made from the ids known when the refresh set
    # out, it counted twice until the next refresh, and a job then was refused as over the
    # bound while there was room (seen under load: 4 of 5 unfinished, the 5th refused).
    def others(self) -> int:
        """Leases held by the other replicas, as of the last refresh."""
        return sum(1 for lease in self.seen if lease not in self.mine)

    def took_lease(self, lease_id: str | None) -> None:
        self.held += 1
        if lease_id is not None:
            self.mine.add(lease_id)

    def saw_leases(self, leases: list[str], own_now: list[str]) -> None:
        """A refresh's lease ids; `own_now`, this replica's leases at this moment. An id of
        this replica's that neither holds is gone for good (a lease id is never reused)."""
        self.seen = frozenset(leases)
        self.mine = {lease for lease in self.mine if lease in self.seen or lease in own_now}

    def drop_leases(self) -> None:
        self.held = 0
        self.seen = frozenset()
        self.mine = set()

    def places(self) -> dict[int, int]:
        """This replica's waiting jobs -> their places in the cluster's line: the scheduler's
        rank, or, for a job not on the scheduler yet (or waiting for a lease), behind everyone."""
        if not self.ready:
            return {}
        places: dict[int, int] = {}
        unknown: list[int] = []
        for job in self.jobs.values():
            if job.reported or job.started:
                continue
            rank = self.ranks.get(job.key) if job.future is not None else None
            if isinstance(rank, int):
                places[job.id] = rank
            elif rank is None:
                unknown.append(job.id)
            # else it was sent to a worker ("processing"): it is about to say it started
        last = max([self.figures["waiting"], *places.values()])
        places.update({job_id: last + n for n, job_id in enumerate(unknown, start=1)})
        return places

    def forget(self, job: DaskJob) -> None:
        self.jobs.pop(job.id, None)
        self.by_key.pop(job.key, None)

    def unrank(self, job: DaskJob) -> None:
        """The job left the cluster's line: everyone behind it moves up one place."""
        rank = self.ranks.pop(job.key, None)
        if isinstance(rank, int):
            for key, other in self.ranks.items():
                if isinstance(other, int) and other > rank:
                    self.ranks[key] = other - 1
            self.figures["waiting"] = max(0, self.figures["waiting"] - 1)

    # -- the loop -------------------------------------------------------------------------------
    def spawn(self, coro, name: str | None = None) -> asyncio.Task:
        """Run `coro` as a task on the loop (from the loop); stop cancels what is left."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    def soon(self, callback) -> None:
        """Run `callback` on the loop (from any thread; dropped once the loop is closed)."""
        loop = self.loop
        if loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop is closed: nothing runs any more
            loop.call_soon_threadsafe(callback)

    def report(self, job_id: int, outcome: Outcome) -> None:
        if self.events is not None:
            self.events.finished(job_id, outcome)
