"""The per-process objects: created once, on first use, and stopped when the process exits.

Page scripts run once per session, but this module is imported once per process, so what it
holds is shared by every session of this server process (one per process with --num-procs).
"""

from __future__ import annotations

import atexit
import logging
import threading
from functools import cache

from app.core.job_queue import JobQueue
from app.settings import Settings

_lock = threading.Lock()
_queue: JobQueue | None = None


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
