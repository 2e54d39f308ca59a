"""The per-process objects: created once, on first use, and stopped when the process exits.

Page scripts run once per session, but this module is imported once per process, so what it
holds is shared by every session of this server process (one per process with --num-procs).
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import threading
import time
from functools import cache

from app.core.job_queue import JobQueue
from app.core.loop_lag import LoopLagProbe
from app.core.server_state import SessionRegistry, Snapshot, take_snapshot
from app.settings import Settings

_lock = threading.Lock()
_queue: JobQueue | None = None
_probe = LoopLagProbe(interval=0.1, window=60.0)
_sessions = SessionRegistry()
_started_at = time.monotonic()
_snapshot: tuple[float, Snapshot] | None = None
SNAPSHOT_MAX_AGE = 0.5  # seconds: every session's monitor shares the snapshot this long


@cache
def settings() -> Settings:
    """The settings this process runs with, read from the environment once."""
    return Settings.from_env()


def configure_logging() -> None:
    """Log to stderr at LOG_LEVEL, once per process."""
    level = getattr(logging, settings().log_level, logging.INFO)
    logger = logging.getLogger("app")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
        logger.propagate = False
    logger.setLevel(level)


def job_queue() -> JobQueue:
    """The process's job queue, with its worker pool started."""
    global _queue
    with _lock:
        if _queue is None:
            s = settings()
            _queue = JobQueue(
                workers=s.queue_workers,
                max_waiting=s.queue_max_waiting,
                max_per_owner=s.queue_max_per_session,
            ).start()
            atexit.register(_queue.shutdown)
        return _queue


def sessions() -> SessionRegistry:
    """The sessions this process serves."""
    return _sessions


def lag_probe() -> LoopLagProbe:
    """The process's event-loop lag probe, started on the first call from the server's loop."""
    if not _probe.running:
        with _lock:
            if not _probe.running:
                _attach_to_server_loop()
    return _probe


def _attach_to_server_loop() -> None:
    """Once per process, on the server's event loop: start the lag probe (stopped at exit) and
    keep closed-websocket writes out of the log as tracebacks."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # a page script runs inside the loop, not in a task
        loop = asyncio.get_event_loop()
    _probe.start(loop)
    atexit.register(_probe.stop)
    _quiet_closed_websocket_writes(loop)


def snapshot(lag_window: float | None = None) -> Snapshot:
    """The process's state now (shared for half a second unless a lag window is asked for)."""
    global _snapshot
    now = time.monotonic()
    cached = _snapshot
    if lag_window is None and cached is not None and now - cached[0] < SNAPSHOT_MAX_AGE:
        return cached[1]
    taken = take_snapshot(
        _sessions,
        lag_probe(),
        job_queue(),
        _started_at,
        settings().health_lag_threshold_ms,
        lag_window,
    )
    if lag_window is None:
        _snapshot = (now, taken)
    return taken


def _quiet_closed_websocket_writes(loop: asyncio.AbstractEventLoop) -> None:
    """A server push (a monitor tick, a job update) that races a closing tab fails inside
    tornado's write task with WebSocketClosedError, which asyncio then logs as a traceback
    ("Task exception was never retrieved"). The tab is gone and Bokeh cleans the session up;
    log it as one debug line instead, and leave every other error to the default handler."""
    from tornado.iostream import StreamClosedError
    from tornado.websocket import WebSocketClosedError

    previous = loop.get_exception_handler()

    def handler(loop: asyncio.AbstractEventLoop, context: dict) -> None:
        if isinstance(context.get("exception"), WebSocketClosedError | StreamClosedError):
            logging.getLogger("app").debug("write to a closed websocket dropped")
            return
        if previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handler)
