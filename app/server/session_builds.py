"""Page sessions built beside the event loop, not on it.

Bokeh builds a new session's document (runs the page script: every widget, model and watcher
of the page) on the server's event loop, in one synchronous step: 30 to 90 ms of CPU here per
page (benchmark figure 7). While it runs, the loop answers no one: a click of any other
visitor that arrives meanwhile waits for the whole build, which is what made click latency
climb while visitors came and went (figure 1's churn). Here the build runs on one thread of
its own instead. Python still runs one thread at a time, but it switches between runnable
threads every few milliseconds (`sys.getswitchinterval()`), so the loop now waits for a slice
of a build, not for all of it.

It is safe because nothing else can see the document while it is built: Bokeh has not made it
a session yet (no connection, no loop callback reaches it) until the build returns, and the
`ServerSession` is then made on the loop as before. Two things of Panel and Bokeh assume the
build is on the loop's thread, and are set right here:

- Panel claims a document for the thread that builds it (`state._thread_id_`), and later
  treats changes made on another thread as off-loop changes to be scheduled. Once built, the
  document is given to the loop's thread.
- Bokeh keeps the "current document" of code it runs in one process-wide stack
  (`bokeh.io.doc._PATCHED_CURDOCS`, pushed for every callback on the loop and for the page
  script): a build and the loop's callbacks interleaving on it would see each other's
  documents. The stack is made one per thread.

One build thread, owned by the runtime (started with its first build, so after a fork; stopped
with the runtime): builds run one at a time in the order asked, as they did on the loop.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import weakref
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from app.server.session_heap import SessionHeaps

log = logging.getLogger(__name__)


class SessionBuilds:
    """The thread that builds new sessions' documents (one at a time, in the order asked), with
    what each build allocates kept out of the cycle collector (`heaps`)."""

    def __init__(self, heaps: SessionHeaps) -> None:
        self.heaps = heaps
        self.built = 0  # documents built on the build thread
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._stopped = False
        self._turn: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None  # one build,
        # and its heap, at a time (the server has one loop; a lock is bound to one)

    async def build(self, doc, initialize: Callable[[], None]) -> None:
        """On the event loop: run `initialize()` (which builds `doc`) on the build thread, and
        wait for it; then give the document to the loop's thread (Panel's claim on it), also
        when the build failed."""
        from panel.io.state import state

        loop = asyncio.get_running_loop()
        if self._turn is None or self._turn[0] is not loop:
            self._turn = (loop, asyncio.Lock())
        loop_thread = threading.get_ident()
        async with self._turn[1]:
            try:
                with self.heaps.keeping(doc):
                    running = self._submit(initialize)
                    if running is None:  # stopped: on the loop, as Bokeh does
                        initialize()
                    else:
                        await _until_done(running)
                        self.built += 1
            finally:
                state._thread_id_[doc] = loop_thread

    def _submit(self, initialize: Callable[[], None]) -> Future | None:
        with self._lock:  # (stop takes it too: no submit to a pool being shut down)
            if self._stopped:
                return None
            if self._pool is None:  # the first build: after any fork
                self._pool = ThreadPoolExecutor(1, thread_name_prefix="session-build")
            return self._pool.submit(initialize)

    def stop(self) -> None:
        """No more builds on the thread; waits for the one running, if any (idempotent)."""
        with self._lock:
            self._stopped = True
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


async def _until_done(future: Future) -> None:
    """Await a thread's future to its end, even if the waiting task is cancelled meanwhile
    (the heap of a build may only be taken once the build thread has finished)."""
    waiting = asyncio.wrap_future(future)
    try:
        await asyncio.shield(waiting)
    except asyncio.CancelledError:
        await asyncio.wait([waiting])
        raise


class _PerThreadStack(threading.local):
    """A list-like stack of its own for each thread (what Bokeh's curdoc stack needs)."""

    def __init__(self) -> None:
        self.items: list = []

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index):
        return self.items[index]

    def append(self, item) -> None:
        self.items.append(item)

    def pop(self):
        return self.items.pop()


# -- wiring into Bokeh 3.9.2 and Panel 1.9.4 (checked with speedups.PANEL/BOKEH) ------------------
def install(builds: Callable[[], SessionBuilds | None]) -> None:
    """Build each server session's document with `builds()` (None: on the loop, as Bokeh does)."""
    import bokeh.io.doc as bokeh_doc
    from bokeh.server import contexts

    bokeh_doc._PATCHED_CURDOCS = _PerThreadStack()
    contexts.ApplicationContext.create_session_if_needed = _create_session_if_needed
    global _builds
    _builds = builds


_builds: Callable[[], SessionBuilds | None] = lambda: None  # noqa: E731


async def _create_session_if_needed(self, session_id, request=None, token=None):
    """Bokeh's ApplicationContext.create_session_if_needed, with the document built by the
    runtime's SessionBuilds (the one change: `await builder.build(...)`)."""
    from bokeh.document import Document
    from bokeh.protocol.exceptions import ProtocolError
    from bokeh.server.contexts import BokehSessionContext, _RequestProxy
    from bokeh.server.session import ServerSession
    from bokeh.util.token import get_token_payload
    from tornado import gen

    if len(session_id) == 0:
        raise ProtocolError("Session ID must not be empty")

    if session_id not in self._sessions and session_id not in self._pending_sessions:
        future = self._pending_sessions[session_id] = gen.Future()
        doc = Document()
        session_context = BokehSessionContext(
            session_id, self.server_context, doc, logout_url=self._logout_url
        )
        if request is not None:
            payload = get_token_payload(token) if token else {}
            if "cookies" in payload and "headers" in payload and "Cookie" not in payload["headers"]:
                payload["headers"]["Cookie"] = "; ".join(
                    [f"{k}={v}" for k, v in payload["cookies"].items()]
                )
            session_context._request = _RequestProxy(
                request,
                arguments=payload.get("arguments"),
                cookies=payload.get("cookies"),
                headers=payload.get("headers"),
            )
        session_context._token = token
        doc._session_context = weakref.ref(session_context)
        try:
            await self._application.on_session_created(session_context)
        except Exception as e:
            log.error("Failed to run session creation hooks %r", e, exc_info=True)

        builder = _builds()
        try:
            if builder is None:
                self._application.initialize_document(doc)
            else:
                await builder.build(doc, lambda: self._application.initialize_document(doc))
            session = ServerSession(session_id, doc, io_loop=self._loop, token=token)
        except BaseException as error:
            # Bokeh leaves the pending future unresolved here; a second request for the same
            # id would wait on it for ever. And no session means no release of its heap.
            if builder is not None:
                builder.heaps.release(doc)
            del self._pending_sessions[session_id]
            future.set_exception(error)
            future.exception()  # retrieved: no "never retrieved" warning when no one waits
            raise
        del self._pending_sessions[session_id]
        self._sessions[session_id] = session
        session_context._set_session(session)
        self._session_contexts[session_id] = session_context
        future.set_result(session)

    if session_id in self._pending_sessions:
        session = await self._pending_sessions[session_id]
    else:
        session = self._sessions[session_id]
    return session
