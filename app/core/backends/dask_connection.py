"""The Dask backend's connection to the cluster, over its whole life (app/core/backends/dask.py
says how the backend works, and "Faults" what happens when the cluster goes away).

`Connection.supervise` runs on the server's loop until stop: it connects, sets up what jobs
need (this replica's topic, the scheduler plugin, the cluster-wide bound), then every
REFRESH_SECONDS reads the cluster's figures and the places of this replica's jobs in one call.
When the connection is lost, `lose` fails every job handed over, once, and the supervisor
connects again with a bounded backoff, logging once per change of state.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

from app.core.backends.base import Failed
from app.core.backends.dask_state import DaskJob, DaskState, log
from app.core.backends.dask_task import STATE_OP, ClusterStatePlugin

if TYPE_CHECKING:
    from app.core.backends.dask_pump import Pump

REFRESH_SECONDS = 0.5  # the cluster's figures and the positions are read this often
RETRY_FIRST = 1.0  # seconds before connecting again; doubles up to `retry_max`
LOST = "the Dask cluster connection was lost"


class Connection:
    """Keeps the backend connected to the cluster; the messages of its tasks on the replica's
    topic, and the jobs whose worker died, go to `pump`."""

    def __init__(self, state: DaskState, pump: Pump) -> None:
        self.state = state
        self.settings = state.settings
        self.pump = pump

    async def supervise(self) -> None:
        """Connect, watch the connection, refresh the figures; forever, until stop."""
        state = self.state
        delay = RETRY_FIRST
        while True:
            try:
                wait = await self._watch()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # connecting failed, or the cluster cannot be used
                lose(state)  # (only if it was connected: a fault of this backend itself)
                self._set_down(exc)
                if state.client is not None:
                    await self._discard(state.client)
                await self._pause(delay)
                delay = min(2 * delay, self.settings.retry_max)
                continue
            if state.ready:
                delay = RETRY_FIRST
            if wait:
                await self._pause(REFRESH_SECONDS)

    async def _pause(self, seconds: float) -> None:
        """Sleep up to `seconds`; woken early by a kick (a future found the connection lost)."""
        kick = self.state.kick
        assert kick is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(kick.wait(), seconds)
        kick.clear()

    async def _watch(self) -> bool:
        """One round: connect if need be, else see to the connection and refresh. Whether to
        wait before the next round."""
        client = self.state.client
        if client is None:
            await self._connect()
        elif client.status == "running":
            if self.state.ready:
                await self._refresh(client)
            else:  # it reconnected by itself
                await self._setup(client)
        elif client.status in ("connecting", "newly-created"):
            lose(self.state)  # it is reconnecting by itself
        else:  # it gave up reconnecting and closed: make a new one at once
            lose(self.state)
            await self._discard(client)
            return False
        return True

    async def _connect(self) -> None:
        from distributed import Client

        client = Client(
            self.settings.address,
            asynchronous=True,
            timeout=self.settings.connect_timeout,
            set_as_default=False,  # a worker in this process would use it (synchronously)
            name=f"panel-{self.settings.replica}",
        )
        try:
            await client
            await self._setup(client)
        except BaseException:
            await self._discard(client)
            raise
        self.state.client = client

    async def _setup(self, client) -> None:
        """Subscribe to the topic, make the bound, read the figures: then jobs may come."""
        state, call_timeout = self.state, self.settings.call_timeout
        client.subscribe_topic(self.settings.topic, self.pump.on_message)
        await asyncio.wait_for(client.register_plugin(ClusterStatePlugin()), call_timeout)
        sem = await asyncio.wait_for(self._make_bound(client), call_timeout)
        try:
            info = await self._ask_scheduler(client, [])
        except BaseException:
            drop_bound(sem)
            raise
        with state.lock:
            state.gen += 1
            state.sem = sem
            state.ready = True
            state.down = None
            state.refresh_error = None
            state.ranks = {}
            state.figures = {k: info[k] for k in state.figures}
            state.saw_leases(info["leases"], list(sem._leases))
        log.info(
            "connected to the Dask cluster at %s: %d worker threads, %d jobs waiting there",
            self.settings.address, info["threads"], info["waiting"],
        )  # fmt: skip
        if state.events is not None:
            state.events.room()

    async def _make_bound(self, client):
        import dask
        from distributed import Semaphore

        # The lease timeout is the registering client's; its refresh period is a fifth of it.
        timeout = self.settings.lease_timeout
        with dask.config.set({"distributed.scheduler.locks.lease-timeout": timeout}):
            sem = Semaphore(
                max_leases=self.settings.max_jobs,
                name=self.settings.bound_name,
                scheduler_rpc=client.scheduler,
                loop=client.loop,
            )
            try:
                await sem
            except BaseException:
                drop_bound(sem)
                raise
        return sem

    async def _discard(self, client) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.close(), self.settings.call_timeout)
        if self.state.client is client:
            self.state.client = None

    def _set_down(self, exc: BaseException) -> None:
        """Not connected, or connected but unusable: say why, once per change."""
        address = self.settings.address
        detail = f"{type(exc).__name__}: {next(iter(str(exc).strip().splitlines()), '')}"
        if isinstance(exc, OSError | TimeoutError):
            why = f"the Dask cluster at {address} cannot be reached"
            logged = f"{why} ({detail})"
        else:
            if isinstance(exc, ImportError):
                detail += "; its scheduler and workers need this app installed"
            why = logged = f"the Dask cluster at {address} cannot be used ({detail})"
        with self.state.lock:
            changed = why != self.state.down
            self.state.ready = False
            self.state.down = why
        if changed:
            log.warning("%s; trying again every few seconds", logged)

    async def _ask_scheduler(self, client, keys: list[str]) -> dict:
        """One call: the cluster's figures and the places of `keys` (dask_task.cluster_state)."""
        ask = getattr(client.scheduler, STATE_OP)
        return await asyncio.wait_for(
            ask(keys=keys, semaphore=self.settings.bound_name),
            self.settings.call_timeout,
        )

    async def _refresh(self, client) -> None:
        """Read the cluster's figures and the places of this replica's jobs (one call)."""
        state = self.state
        with state.lock:
            gen = state.gen
            keys = [j.key for j in state.jobs.values() if j.future is not None and not j.reported]
            waiting_here = bool(state.launch)
        try:
            info = await self._ask_scheduler(client, keys)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if client.status != "running":
                return  # the loss is dealt with on the next round
            address = self.settings.address
            why = f"the Dask scheduler at {address} does not answer ({type(exc).__name__})"
            with state.lock:
                changed = why != state.refresh_error
                state.refresh_error = why
            if changed:
                log.warning("%s: %s", why, exc)
            return
        with state.lock:
            if gen != state.gen or not state.ready:
                return
            recovered = state.refresh_error is not None
            before = (state.free(), state.places(), dict(state.figures))
            state.refresh_error = None
            state.ranks = {k: v for k, v in info["ranks"].items() if k in state.by_key}
            state.figures = {k: info[k] for k in state.figures}
            state.saw_leases(info["leases"], list(state.sem._leases) if state.sem else [])
            after = (state.free(), state.places(), dict(state.figures))
            died = [
                job for key in info["died"]
                if (job := state.by_key.get(key)) is not None and not job.reported
            ]  # fmt: skip
        if recovered:
            log.info("the Dask scheduler at %s answers again", self.settings.address)
        for job in died:
            self.pump.worker_died(job)
        if before != after and state.events is not None:
            state.events.room()  # room, places or the cluster's figures changed
        if waiting_here and state.pump_wake is not None:
            state.pump_wake.set()


def drop_bound(sem) -> None:
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


def lose(state: DaskState) -> None:
    """The connection is gone: every job handed over fails, once; submit refuses."""
    with state.lock:
        if not state.ready:
            return
        state.ready = False
        state.down = f"the Dask cluster at {state.settings.address} cannot be reached"
        lost = [job for job in state.jobs.values() if not job.reported]
        for job in state.jobs.values():
            job.reported = True
            job.leased = False
        for job in list(state.launch):
            state.forget(job)
        state.launch.clear()
        state.drop_leases()
        state.ranks = {}
        state.figures = dict.fromkeys(state.figures, 0)
        sem, state.sem = state.sem, None
    drop_bound(sem)
    state.to_clear.clear()  # the scheduler's Events are gone with it
    log.warning(
        "lost the connection to the Dask cluster at %s: %d unfinished jobs failed; "
        "reconnecting", state.settings.address, len(lost),
    )  # fmt: skip
    for job in lost:
        state.report(job.id, Failed(lost_reason(state, job)))


def lost_reason(state: DaskState, job: DaskJob) -> str:
    when = "while it ran" if job.started else "before it started"
    return f"{LOST} {when} (scheduler {state.settings.address})"
