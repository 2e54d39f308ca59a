"""The sessions a server process serves: counted once each, logged by a tag, and ended promptly
once their tab is gone.

Bokeh destroys a session only after its websocket has closed AND its unused-session check has
run (by default up to ~32 s later), and that destruction is what cancels the session's jobs,
tasks and live streams. `sweep()`, run every half second, ends sessions sooner: one whose websocket
has been seen closed for `linger` seconds, or that never connected within `connect_timeout`
seconds of its page request, is asked to expire, and the server's next check (every
`--check-unused-sessions` ms) destroys it.

A session id is a bearer credential (whoever knows it can attach to the session), so the log
never shows one: `tag()` gives a short keyed hash instead, stable within the process.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger(__name__)


class SessionHandle(Protocol):
    """What the registry needs of a server session (app/runtime.py adapts Bokeh's)."""

    def connections(self) -> int:
        """Websockets attached now."""

    def expire(self) -> None:
        """Ask the server to destroy it at its next unused-session check."""


@dataclass
class _Live:
    page: str
    handle: SessionHandle | None
    opened_at: float
    connected: bool = False
    disconnected_at: float | None = None
    expiring: str | None = None  # why it was asked to expire


class SessionRegistry:
    """Sessions opened and closed from any thread; `sweep()` runs on the server's loop."""

    def __init__(
        self,
        linger: float = 1.0,
        connect_timeout: float = 15.0,
        clock: Callable[[], float] = time.monotonic,
        key: bytes | None = None,
    ) -> None:
        self.linger = linger
        self.connect_timeout = connect_timeout
        self.clock = clock
        self._key = key or os.urandom(16)
        self._lock = threading.Lock()
        self._live: dict[str, _Live] = {}
        self.total = 0

    def tag(self, session_id: str) -> str:
        """A short, non-reversible name for a session, for the log."""
        digest = hmac.new(self._key, session_id.encode(), hashlib.sha256).hexdigest()
        return digest[:8]

    def opened(self, session_id: str, page: str, handle: SessionHandle | None = None) -> None:
        with self._lock:
            if session_id in self._live:
                return
            self._live[session_id] = _Live(page, handle, self.clock())
            self.total += 1
            live = len(self._live)
        log.info("session %s opened on /%s (%d live)", self.tag(session_id), page, live)

    def attached(self, session_id: str) -> None:
        """A websocket attached to the session (its page connected). The sweep also sees a
        connection while it is open; this one a tab that closes again before the next sweep."""
        with self._lock:
            entry = self._live.get(session_id)
            if entry is not None:
                entry.connected, entry.disconnected_at = True, None

    def closed(self, session_id: str) -> None:
        with self._lock:
            entry = self._live.pop(session_id, None)
            live = len(self._live)
        if entry is not None:
            log.info("session %s closed on /%s (%d live)", self.tag(session_id), entry.page, live)

    @property
    def live(self) -> int:
        with self._lock:
            return len(self._live)

    @property
    def connected(self) -> int:
        """Sessions whose page has connected (the rest are still loading, or abandoned)."""
        with self._lock:
            return sum(1 for entry in self._live.values() if entry.connected)

    def sweep(self) -> int:
        """Ask sessions whose tab is gone to expire; returns how many were asked now."""
        now = self.clock()
        with self._lock:
            entries = [(sid, e) for sid, e in self._live.items() if e.handle and not e.expiring]
        asked = 0
        for session_id, entry in entries:
            why = self._why_expire(entry, now)
            if why is None:
                continue
            entry.expiring = why
            entry.handle.expire()
            asked += 1
            log.info("session %s on /%s ends: %s", self.tag(session_id), entry.page, why)
        return asked

    def _why_expire(self, entry: _Live, now: float) -> str | None:
        if entry.handle.connections() > 0:
            entry.connected, entry.disconnected_at = True, None
            return None
        if entry.connected:
            if entry.disconnected_at is None:
                entry.disconnected_at = now
            if now - entry.disconnected_at >= self.linger:
                return "its websocket closed"
            return None
        if now - entry.opened_at >= self.connect_timeout:
            return f"its page did not connect within {self.connect_timeout:g} s"
        return None


class Outstanding:
    """A count of calls scheduled onto session loops and not yet run, so that shutdown can let
    the last page updates go out before the loop stops."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._count = 0

    def add(self) -> None:
        with self._cond:
            self._count += 1

    def done(self, count: int = 1) -> None:
        with self._cond:
            self._count -= count
            if self._count <= 0:
                self._count = 0
                self._cond.notify_all()

    @property
    def count(self) -> int:
        with self._cond:
            return self._count

    def wait_idle(self, timeout: float) -> bool:
        """Block until no call is outstanding, for at most `timeout` seconds."""
        with self._cond:
            return self._cond.wait_for(lambda: self._count == 0, timeout)


PENDING_CALLS = Outstanding()
