"""The session a component belongs to, and the one way code is run on it.

Bokeh models may only change on the session's event loop, holding the document lock. Queue
notifications arrive on worker threads, and with `panel serve --num-threads N` Panel runs sync
callbacks (button clicks, widget changes) on a thread pool; neither may touch a model. Every
component therefore hands such work to `SessionLoop.call`, which schedules it with the
document's `add_next_tick_callback` (what `pn.state.execute(..., schedule=True)` does): it then
runs on the loop, holding the lock, in order. `coalesced` makes a refresh that is asked for many
times run once. Outside a server (unit tests) both run the function at once.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable

import panel as pn
from panel.io.state import set_curdoc

from app.core.sessions import PENDING_CALLS

log = logging.getLogger(__name__)

_local_ids = itertools.count(1)


class SessionLoop:
    """The current session (captured when a component is built, on the loop), its id, and a
    thread-safe way to run code there while it lives."""

    def __init__(self) -> None:
        doc = pn.state.curdoc
        context = doc.session_context if doc is not None else None
        self.doc = doc if context is not None else None
        self.id = context.id if context is not None else f"local-{next(_local_ids)}"
        self.closed = False
        self._lock = threading.Lock()
        self._closers: list[Callable[[], None]] = []
        self._outstanding = 0
        if self.doc is not None:
            pn.state.on_session_destroyed(self._destroyed)

    @property
    def in_server(self) -> bool:
        return self.doc is not None

    def call(self, fn: Callable[..., object], *args: object) -> None:
        """Run fn(*args) on the session's loop with the document lock (from any thread)."""
        if self.doc is None:
            fn(*args)
            return
        if self.closed:
            return
        self._begin()
        try:
            self.doc.add_next_tick_callback(self._wrap(fn, *args))
        except Exception:  # the session is being destroyed: nothing left to update
            self._end()
            log.debug("call dropped for a closing session")

    def _wrap(self, fn: Callable[..., object], *args: object) -> Callable[[], None]:
        def run() -> None:
            try:
                if not self.closed:
                    with set_curdoc(self.doc):
                        fn(*args)
            finally:
                self._end()

        return run

    # Calls scheduled and not yet run are counted (per session, and for the process in
    # PENDING_CALLS), so that shutdown can wait for the last page updates; a destroyed
    # session's dropped calls are taken off the count when it closes.
    def _begin(self) -> None:
        with self._lock:
            self._outstanding += 1
        PENDING_CALLS.add()

    def _end(self, count: int = 1) -> None:
        with self._lock:
            count = min(count, self._outstanding)
            self._outstanding -= count
        if count:
            PENDING_CALLS.done(count)

    def coalesced(self, fn: Callable[[], object], min_interval_ms: int = 0) -> Callable[[], None]:
        """A function that schedules fn on the loop, at most once until fn has run (and, with
        `min_interval_ms`, at most once per interval): however many times it is called
        meanwhile, fn runs once, and reads the latest state when it does."""
        pending = False
        last_run = 0.0

        def run() -> None:
            nonlocal pending, last_run
            with self._lock:
                pending = False
                last_run = time.monotonic()
            fn()

        def schedule() -> None:
            nonlocal pending
            with self._lock:
                if pending or self.closed:
                    return
                pending = True
                wait_ms = round((last_run - time.monotonic()) * 1000) + min_interval_ms
            if wait_ms <= 0 or self.doc is None:
                self.call(run)
            else:  # on the loop, since only next-tick callbacks may be added from any thread
                self.call(self._add_timeout, run, wait_ms)

        return schedule

    def _add_timeout(self, fn: Callable[[], None], wait_ms: int) -> None:
        self._begin()
        self.doc.add_timeout_callback(self._wrap(fn), wait_ms)

    def on_close(self, fn: Callable[[], None]) -> None:
        """Call fn() when the session is destroyed (never when there is no session)."""
        self._closers.append(fn)

    def close(self) -> None:
        """The session is gone: run the closers once; later calls do nothing."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
        self._end(self._outstanding)
        for fn in self._closers:
            try:
                fn()
            except Exception:
                log.exception("a session cleanup failed")

    def _destroyed(self, session_context) -> None:
        self.close()
