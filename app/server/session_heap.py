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
out of the collector's reach while it lives. The objects its page script builds are exactly
those allocated while Panel initializes its document: with automatic collection paused for
that synchronous step (tens of ms), they are what the youngest generation holds afterwards.
They are untracked (`PyObject_GC_UnTrack`, the C API's own call, through ctypes): the collector
no longer sees them, reference counting frees them as ever. A list here keeps each one alive
until the session ends, so none is freed while untracked; when Bokeh has destroyed the session
and run its callbacks, they are tracked again, the list is dropped, and one collection of the
young generations frees what became garbage: the session, without walking the other sessions.

Objects another thread allocated during that step are held with the session's (until it ends):
a few, and nothing that would be collected sooner is lost, only later.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import types
import weakref
from collections.abc import Callable

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
        # its objects still held (its session never ended through Bokeh) gives them back first
        # (`_forget`): some deallocators unlink an object from the collector without checking
        # that it is tracked (a context's crashed the server so when it was freed untracked).
        self._held: dict[weakref.ref, list] = {}

    @property
    def sessions(self) -> int:
        return len(self._held)

    @property
    def objects(self) -> int:
        return sum(len(objects) for objects in list(self._held.values()))

    def build(self, doc, initialize: Callable[[], None]) -> None:
        """Run `initialize()` (which builds `doc`'s session) and keep what it built."""
        gc.collect(0)  # the youngest generation: a few hundred objects, not this session's
        enabled = gc.isenabled()
        gc.disable()
        try:
            initialize()
        finally:
            built = gc.get_objects(generation=0)
            if enabled:
                gc.enable()
        held = [obj for obj in built if not isinstance(obj, _LEFT_TRACKED)]
        del built
        for obj in held:
            _untrack(obj)
        _untrack(held)  # nor is the list itself walked: it holds thousands of references
        self._held[weakref.ref(doc, self._forget)] = held

    def release(self, doc) -> int:
        """The session of `doc` has ended: give its objects back to the collector, and collect
        the young generations (where they now are). How many objects it had held."""
        held = self._held.pop(weakref.ref(doc), None)
        if held is None:
            return 0
        count = len(held)
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
    """Keep each server session's objects in `heaps()` (None: not in a server of the app), and
    take out Bokeh's and Panel's explicit full collections."""
    import bokeh.application.application as bokeh_app
    import panel.io.application as panel_app
    import panel.io.document as panel_doc
    from bokeh.application.handlers.document_lifecycle import DocumentLifecycleHandler

    initialize = panel_app.Application.initialize_document

    def initialize_document(self, doc) -> None:
        context = doc.session_context
        target = heaps()
        # Only a server's session: Panel's warm-up and --dev documents have no server context.
        if target is None or context is None or context.server_context is None:
            initialize(self, doc)
            return
        target.build(doc, lambda: initialize(self, doc))

    panel_app.Application.initialize_document = initialize_document

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
