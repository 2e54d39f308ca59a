"""The runtime: everything one server process shares, with an explicit life.

One `Runtime` per server process owns the job queue and what runs its jobs, the event-loop lag
probe, the session registry and its sweep, the cached snapshot, and the loop's exception and
SIGTERM handlers. Its life:

- `install()` is run by the setup script (`panel serve --setup app/server_setup.py`, which
  `python -m app` passes) once per server process: with `--num-procs N` in each process after the
  fork, so nothing exists before it. It creates the runtime (no thread yet), registers the
  session hooks (once per process, outside any session) and schedules `start` on the server's
  loop.
- `start()` runs on the server's loop: workers, probe, sweep, handlers.
- On SIGTERM, `terminate()` stops taking jobs, lets running ones finish for a grace period,
  gives every unfinished job its final state, lets those last updates reach the open pages, and
  then stops the loop; `stop()` runs at exit in any case.

`panel serve --dev` re-imports the pages and components after an edit, but not this module or
`app.core` (the setup script imported them before Panel began recording the app's modules), so
the one runtime and its workers stay the only ones; an edit to them needs a restart.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import signal
import socket
import threading
import time
import weakref

from app import process
from app.core.admission import Admission
from app.core.backends.base import Backend
from app.core.backends.threads import ThreadBackend
from app.core.gc_pauses import GcPauses
from app.core.job_queue import JobQueue
from app.core.limits import Gate, PerClient
from app.core.loop_lag import LoopLagProbe
from app.core.refusals import RefusalLog
from app.core.server_state import Snapshot, take_snapshot
from app.core.sessions import PENDING_CALLS, SessionRegistry
from app.server.session_heap import SessionHeaps
from app.settings import Settings

log = logging.getLogger("app")

SNAPSHOT_MAX_AGE = 0.5  # seconds: every session's monitor shares the snapshot this long
SWEEP_SECONDS = 0.5  # how often sessions whose tab is gone are looked for
FLUSH_SECONDS = 2.0  # at shutdown, the most time the last page updates may take to go out
BLOCKING_DEMO_INTERVAL = 10.0  # seconds: the blocking demo freezes the process at most this often


class Runtime:
    """The objects shared by every session of this server process."""

    def __init__(self, settings: Settings, backend: Backend | None = None) -> None:
        self.settings = settings
        self.phase = "created"  # -> running -> draining -> stopped
        self.sessions = SessionRegistry(
            linger=settings.session_linger_seconds,
            connect_timeout=settings.session_connect_seconds,
        )
        self.probe = LoopLagProbe(interval=0.1, window=60.0)
        self.gc_pauses = GcPauses(window=60.0)
        self.heaps = SessionHeaps()  # what each live session built, out of the collector's way
        self.replica = settings.replica_name or _default_replica_name(settings.port)
        self.queue = JobQueue(
            backend or make_backend(settings, self.replica),
            max_waiting=settings.queue_max_waiting,
            max_per_owner=settings.queue_max_per_session,
            tag=self.sessions.tag,
        )
        # What visitors can repeat, bounded (app/server/ applies these).
        self.refusals = RefusalLog()
        self.admission = Admission(
            settings.max_sessions,
            settings.client_sessions_per_minute,
            settings.client_session_burst,
            sessions=lambda: self.sessions.live,
        )
        self.failed_logins = PerClient(
            settings.failed_logins_per_minute, settings.failed_login_burst
        )
        self.blocking_gate = Gate(min_interval=BLOCKING_DEMO_INTERVAL)
        self._started_at = time.monotonic()
        self._snapshot: tuple[float, Snapshot] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sweeper: asyncio.TimerHandle | None = None
        self._lock = threading.Lock()

    # -- life ----------------------------------------------------------------------------------
    def start(self) -> None:
        """Start everything on the running loop (the server's), once."""
        with self._lock:
            if self.phase != "created":
                return
            self.phase = "running"
        self._loop = loop = asyncio.get_running_loop()
        process.freeze_what_every_session_shares()
        self.queue.start()
        self.probe.start(loop)
        self.gc_pauses.start()
        self._sweep()
        process.quiet_closed_websocket_writes(loop)
        if threading.current_thread() is threading.main_thread():
            # Replaces Bokeh's handler, which stops the loop at once.
            loop.add_signal_handler(signal.SIGTERM, self._on_sigterm)
        atexit.register(self.stop)
        log.info("runtime started in pid %d (%s backend)", os.getpid(), self.queue.backend.name)

    def _on_sigterm(self) -> None:
        log.info("SIGTERM: finishing jobs and telling open pages, then stopping")
        task = asyncio.ensure_future(self.terminate())
        task.add_done_callback(lambda _: process.stop_server_loop())

    async def terminate(self) -> None:
        """Drain: no new jobs; running ones get the grace period; every job gets its final
        state, and the pages get the news before the loop stops."""
        with self._lock:
            if self.phase not in ("created", "running"):
                return
            self.phase = "draining"
        loop = asyncio.get_running_loop()
        grace = self.settings.shutdown_grace_seconds
        try:
            await loop.run_in_executor(None, self.queue.shutdown, grace, 1.0)
            await loop.run_in_executor(None, PENDING_CALLS.wait_idle, FLUSH_SECONDS)
        finally:
            self.stop()

    def stop(self) -> None:
        """Stop whatever still runs (idempotent; also run at exit)."""
        with self._lock:
            if self.phase == "stopped":
                return
            self.phase = "stopped"
        if self._sweeper is not None and self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._sweeper.cancel)
        self.probe.stop()
        self.gc_pauses.stop()
        self.queue.shutdown(grace=0.5, timeout=0.5)
        self.heaps.release_all()

    # -- sessions ------------------------------------------------------------------------------
    def session_created(self, session_context) -> None:
        """Panel's on_session_created hook (registered once per process by `install`)."""
        page = session_context.server_context.application_context.url.strip("/") or "home"
        self.sessions.opened(session_context.id, page, _BokehSession(session_context))

    def session_destroyed(self, session_context) -> None:
        self.sessions.closed(session_context.id)

    def refused_from_session(self, session_id: str | None, what: str) -> None:
        """Something a browser sent was refused: one log line per session a minute."""
        who = "a session" if session_id is None else f"session {self.sessions.tag(session_id)}"
        self.refusals.refused(who, what)

    def callback_failed(self, error: BaseException) -> None:
        """Panel's exception handler: a callback raised (often on a value a browser sent that a
        parameter refuses). One line, per session at most once a minute; the traceback only at
        DEBUG level, so that no visitor can fill the log."""
        import panel as pn

        context = pn.state.curdoc.session_context if pn.state.curdoc else None
        what = f"callback failed: {type(error).__name__}: {str(error)[:200]}"
        self.refused_from_session(getattr(context, "id", None), what)
        log.debug("callback failed", exc_info=error)

    def _sweep(self) -> None:
        try:
            self.sessions.sweep()
        except Exception:
            log.exception("session sweep failed")
        if self.phase == "running" and self._loop is not None:
            self._sweeper = self._loop.call_later(SWEEP_SECONDS, self._sweep)

    # -- figures -------------------------------------------------------------------------------
    def not_ready(self) -> list[str]:
        """Why this process should get no new visitors now (empty: it should)."""
        if self.phase == "created":
            return ["starting"]
        if self.phase != "running":
            return ["shutting down"]
        if self.admission.full():
            return [f"it holds its most sessions ({self.settings.max_sessions})"]
        return []

    def snapshot(self, lag_window: float | None = None, fresh: bool = False) -> Snapshot:
        """The process's state now: the sessions' monitors share one for half a second;
        `fresh` (what /health asks) or a lag window gets one of its own."""
        now = time.monotonic()
        cached = self._snapshot
        shared = lag_window is None and not fresh
        if shared and cached is not None and now - cached[0] < SNAPSHOT_MAX_AGE:
            return cached[1]
        taken = take_snapshot(
            replica=self.replica,
            sessions=(self.sessions.live, self.sessions.total),
            lag=self.probe.stats(lag_window),
            gc=self.gc_pauses.stats(lag_window),
            ended_sessions=(self.heaps.collected_young, self.heaps.collected_later),
            pool=self.queue.stats(),
            started_at=self._started_at,
            lag_threshold_ms=self.settings.health_lag_threshold_ms,
            not_ready=self.not_ready(),
        )
        if lag_window is None:
            self._snapshot = (now, taken)
        return taken


def make_backend(settings: Settings, replica: str) -> Backend:
    """Threads of this process, or the Dask cluster at DASK_SCHEDULER_ADDRESS (never a silent
    fallback from one to the other)."""
    if not settings.dask_scheduler_address:
        return ThreadBackend(settings.queue_workers)
    from app.core.backends.dask import DaskBackend

    return DaskBackend(settings.dask_scheduler_address, replica, settings.cluster_max_jobs)


def _default_replica_name(port: int) -> str:
    """Host and port, and the process index with --num-procs: stable across restarts."""
    from tornado.process import task_id

    index = task_id()
    return f"{socket.gethostname()}:{port}" + ("" if index is None else f"/{index}")


class _BokehSession:
    """A Bokeh session context as the registry sees it (app/core/sessions.SessionHandle). It
    holds the context weakly: an ended session is collected young, and a handle made before
    its build (so older) would keep it for a full collection (app/server/session_heap.py)."""

    def __init__(self, context) -> None:
        self._context = weakref.ref(context)

    def _session(self):
        context = self._context()
        return context.session if context is not None else None

    def connections(self) -> int:
        session = self._session()
        return session.connection_count if session is not None else 0

    def expire(self) -> None:
        session = self._session()
        if session is not None:
            session.request_expiration()


# -- one per process ---------------------------------------------------------------------------
_current: Runtime | None = None


def install(settings: Settings | None = None) -> Runtime:
    """Create this process's runtime, hook it to the server, and start it on the server's loop
    (run by the setup script; a second call returns the same runtime)."""
    global _current
    if _current is not None:
        return _current
    import panel as pn
    from tornado.ioloop import IOLoop

    settings = settings or Settings.from_env()
    process.configure_logging(settings)
    _current = runtime = Runtime(settings)
    pn.config.exception_handler = runtime.callback_failed
    # No page reads the browser's details (window size, dark mode, ...): a model less per page.
    pn.config.browser_info = False
    pn.state.on_session_created(runtime.session_created)
    pn.state.on_session_destroyed(runtime.session_destroyed)
    IOLoop.current().add_callback(runtime.start)
    return runtime


def current_heaps() -> SessionHeaps | None:
    """This process's session heaps, if the runtime is installed."""
    return _current.heaps if _current is not None else None


def current() -> Runtime:
    """This process's runtime."""
    if _current is None:
        raise RuntimeError(
            "the app's runtime is not installed: serve the app with `python -m app` (which "
            "passes `panel serve --setup app/server_setup.py`)"
        )
    return _current
