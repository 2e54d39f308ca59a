"""Garbage collection that does not stop the server to walk every live session.

Python's cycle collector, when it collects its oldest generation, walks every object it tracks
while every thread waits, the event loop included. A live Panel session is a few thousand such
objects (a Bokeh document, its models, Panel's objects and their watchers), so with 100
sessions one full collection took 0.6 to 1 s here, and they came every few seconds while
visitors came and went. Two things made it so:

- Bokeh collects the whole heap (`gc.collect()`) each time a session whose document has
  on-destroy callbacks ends (every Panel session has them), and Panel schedules another one a
  few seconds after: a full pause per visitor who leaves, that frees next to nothing, since
  the session's objects are still referenced while Bokeh and Panel are cleaning it up.
- What a session builds lives as long as the session and is walked by every full collection,
  although it cannot become garbage before the session ends.

So: no explicit full collections (the automatic ones remain), and a session's objects are kept
out of the collector's reach while it lives. The objects its page script builds are those
allocated while Panel initializes its document: with automatic collection paused for that
step (tens of ms, on the build thread of app/server/session_builds.py), they are what the
youngest generation holds afterwards.
They are untracked (`PyObject_GC_UnTrack`, the C API's own call, through ctypes): the collector
no longer sees them, reference counting frees them as ever. A list here keeps each one alive
until the session ends, so none is freed while untracked; when Bokeh has destroyed the session
and run its callbacks, they are tracked again, the list is dropped, and one collection of the
young generations frees what became garbage: the session, without walking the other sessions.

Objects other threads allocated during that step (the event loop's, mostly) and still hold
are kept with the session's until it ends: nothing is freed while untracked, and what would
have been collected sooner is collected later. The snapshot and the untracking are done on the
event loop, once the build thread has finished, and no collection runs while a build does: a
collection on the loop during a build crashed the server (a segmentation fault in a few
seconds of churn; with none during builds, none in the runs since).
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import logging
import types
import weakref
from collections.abc import Callable, Iterator

log = logging.getLogger(__name__)

_untrack = ctypes.pythonapi.PyObject_GC_UnTrack
_untrack.argtypes = [ctypes.py_object]
_untrack.restype = None
_track = ctypes.pythonapi.PyObject_GC_Track
_track.argtypes = [ctypes.py_object]
_track.restype = None

# Objects of a running or suspended computation: left to the collector as they are.
_LEFT_TRACKED = (types.FrameType, types.GeneratorType, types.CoroutineType,
                 types.AsyncGeneratorType)  # fmt: skip


class SessionHeaps:
    """The objects each live session built, kept out of the cycle collector until it ends."""

    def __init__(self) -> None:
        # weak reference to a document -> what its session built. A document that dies with
        # its objects still held gives them back first (`_forget`): an object freed while
        # untracked crashes the interpreter.
        self._held: dict[weakref.ref, list] = {}
        self._building = False  # inside `keeping` (on the event loop, as `release`)
        self._ended_meanwhile: list[list] = []  # sessions that ended during a build

    @property
    def sessions(self) -> int:
        return len(self._held)

    @property
    def objects(self) -> int:
        return sum(len(objects) for objects in list(self._held.values()))

    def build(self, doc, initialize: Callable[[], None]) -> None:
        """Run `initialize()` (which builds `doc`'s session) and keep what it built."""
        with self.keeping(doc):
            initialize()

    @contextlib.contextmanager
    def keeping(self, doc) -> Iterator[None]:
        """Keep what is allocated inside this block as `doc`'s session's. Entered and left on
        the thread that may untrack, the event loop's: the build itself may run on another
        thread meanwhile (app/server/session_builds.py), as long as that one has finished when
        the block is left. No collection runs meanwhile: automatic ones are paused, and the
        sessions that end meanwhile (`release`) are given back at the block's end."""
        gc.collect(0)  # the youngest generation: a few hundred objects, not this session's
        enabled = gc.isenabled()
        gc.disable()
        self._building = True
        try:
            try:
                yield
            finally:
                built = gc.get_objects(generation=0)
                if enabled:
                    gc.enable()
            # Kept only when the build succeeded: a failed build's document gets no session,
            # so no `release`, and its objects must stay tracked.
            held = [obj for obj in built if not isinstance(obj, _LEFT_TRACKED)]
            del built
            for obj in held:
                _untrack(obj)
            _untrack(held)  # nor is the list itself walked: it holds thousands of references
            self._held[weakref.ref(doc, self._forget)] = held
        finally:
            self._building = False
            if self._ended_meanwhile:
                ended, self._ended_meanwhile = self._ended_meanwhile, []
                while ended:
                    _give_back(ended.pop())
                gc.collect(1)

    def release(self, doc) -> int:
        """The session of `doc` has ended: give its objects back to the collector, and collect
        the young generations (where they now are). How many objects it had held."""
        held = self._held.pop(weakref.ref(doc), None)
        if held is None:
            return 0
        count = len(held)
        if self._building:
            # Given back when the build is done: tracked again now, they would be in the
            # youngest generation, where `keeping` takes the build's objects from; and a
            # collection on the loop during a threaded build crashed the server.
            self._ended_meanwhile.append(held)
            return count
        _give_back(held)
        del held
        gc.collect(1)
        return count

    def _forget(self, key: weakref.ref) -> None:
        held = self._held.pop(key, None)
        if held is not None:
            _give_back(held)

    def release_all(self) -> None:
        """Give every held object back (at exit: none may be freed while untracked)."""
        while self._ended_meanwhile:
            _give_back(self._ended_meanwhile.pop())
        while self._held:
            _, held = self._held.popitem()
            _give_back(held)


def _give_back(held: list) -> None:
    # Some are tracked again already: a dict re-tracks itself when something is put in it.
    for obj in held:
        if not gc.is_tracked(obj):
            _track(obj)
    if not gc.is_tracked(held):
        _track(held)


# -- wiring into Panel 1.9.4 and Bokeh 3.9.2 (checked with speedups.PANEL/BOKEH) ------------------
def install(heaps: Callable[[], SessionHeaps | None]) -> None:
    """Give each ended server session's objects back from `heaps()` (None: not in a server of
    the app), and take out Bokeh's and Panel's explicit full collections. (Sessions are kept
    when they are built: app/server/session_builds.py.)"""
    import bokeh.application.application as bokeh_app
    import panel.io.document as panel_doc
    from bokeh.application.handlers.document_lifecycle import DocumentLifecycleHandler

    destroyed = bokeh_app.Application.on_session_destroyed

    async def on_session_destroyed(self, session_context) -> None:
        try:
            await destroyed(self, session_context)
        finally:
            target = heaps()
            if target is not None:
                target.release(session_context._document)

    bokeh_app.Application.on_session_destroyed = on_session_destroyed
    DocumentLifecycleHandler.on_session_destroyed = _run_destroyed_callbacks
    panel_doc._garbage_collect = _no_full_collection


async def _run_destroyed_callbacks(self, session_context) -> None:
    """Bokeh's DocumentLifecycleHandler.on_session_destroyed without its gc.collect(): the
    document's on-destroy callbacks, each once."""
    document = session_context._document
    callbacks = document.session_destroyed_callbacks
    document.session_destroyed_callbacks = set()
    for callback in callbacks:
        try:
            callback(session_context)
        except Exception as error:
            log.warning("an on_session_destroyed callback %r failed: %s", callback, error)


def _no_full_collection() -> None:
    """Panel's collection scheduled after sessions end: the young generations only (the
    session's objects are collected when its heap is released)."""
