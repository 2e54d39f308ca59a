"""Garbage collection that does not stop the server to walk every live session.

Python's cycle collector, when it collects its oldest generation, walks every object it tracks
while every thread waits, the event loop included. A live Panel session is a few thousand such
objects (a Bokeh document, its models, Panel's objects and their watchers), so with 100
sessions one full collection took 0.6 to 1 s here, and they came every few seconds while
visitors came and went. Three things made it so:

- Bokeh collects the whole heap (`gc.collect()`) each time a session whose document has
  on-destroy callbacks ends (every Panel session has them), and Panel schedules another one a
  few seconds after: a full pause per visitor who leaves, that frees next to nothing, since
  the session's objects are still referenced while Bokeh and Panel are cleaning it up.
- What a session builds lives as long as the session and is walked by every full collection,
  although it cannot become garbage before the session ends.
- An ended session could only be freed by a full collection, which then walked every live
  session too: objects older than its build (its Document, its context) and newer (its server
  session, its callbacks' closures) pointed into it from the oldest generation, and the server
  itself still held it when the young collection after it ran.

So: no explicit full collections (the automatic ones remain), and a session's objects are kept
out of the collector's reach while it lives. The objects its page script builds are exactly
those allocated while Panel initializes its document: with automatic collection paused while
it runs, they are what the youngest generation has gained meanwhile (in a build that runs in
slices, app/server/sliced_builds.py, slice by slice: other callbacks run in between).
They are untracked (`PyObject_GC_UnTrack`, the C API's own call, through ctypes): the collector
no longer sees them, reference counting frees them as ever. A list here keeps each one alive
until the session ends, so none is freed while untracked.

When the session ends, just before Bokeh takes it apart, its shell (app/server/session_shell.py:
the older and newer objects around it) joins what it holds; once Bokeh, Panel and the app have
let go of it (ENDED_DELAY later), everything it held is tracked again, all in the youngest
generation, and one collection of that generation frees the session without walking any other.
/health and the home page count the sessions freed so, and those left to a full collection.

A session can still be left old: garbage that grew old before the session ended may point into
it (Bokeh wraps each next-tick callback in reference cycles, and one that waited across a
collection is old by the time it has run). A full collection frees such sessions, and its pause
grows with what it frees (about 0.3 ms per 1,000 objects here, a session's being about 1,000),
not with the live sessions, which it does not walk: left to Python's own schedule, the first
full collection after 100 queue sessions closed at once freed 98,000 objects in one 96-ms
pause. So the sessions left old are collected in batches instead: once they hold OLD_BATCH
objects, or OLD_WAIT after the first of them, whichever comes first.

Objects another thread allocated during a build are held with the session's (until it ends):
a few, and nothing that would be collected sooner is lost, only later.
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import logging
import sys
import time
import types
import weakref
from collections.abc import Callable

from app.server import session_shell, sliced_builds

log = logging.getLogger(__name__)

_untrack = ctypes.pythonapi.PyObject_GC_UnTrack
_untrack.argtypes = [ctypes.py_object]
_untrack.restype = None
_track = ctypes.pythonapi.PyObject_GC_Track
_track.argtypes = [ctypes.py_object]
_track.restype = None

# Never taken for a build's temporaries: a class or a module made during a build (the first
# build imports and defines some) is the process's, cheap to keep and costly to get wrong.
_KEEP_ALWAYS = (type, types.ModuleType)

ENDED_DELAY = 0.05  # s from a session's release to its collection: the server lets go meanwhile
OLD_BATCH = 10_000  # objects of sessions left old, freed by one full collection (a few ms)
OLD_WAIT = 1.0  # s: the longest a session left old waits for that collection

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
        self._ended: list[tuple[float, weakref.ref, list]] = []  # (when due, doc, held)
        self._collecting: asyncio.TimerHandle | None = None
        self._old_objects = 0  # objects of the sessions left old since the last full collection
        self._collecting_old: asyncio.TimerHandle | None = None
        self.collected_young = 0  # ended sessions freed by the young collection after them
        self.collected_later = 0  # ... and those left to a later (full) collection

    @property
    def sessions(self) -> int:
        return len(self._held)

    @property
    def objects(self) -> int:
        return sum(len(objects) for objects in list(self._held.values()))

    def build(self, doc, initialize: Callable[[], None]) -> None:
        """Run `initialize()` (which builds `doc`'s session) and keep what it built. In a build
        that runs in slices (app/server/sliced_builds.py), what each slice made is kept as the
        slice ends, and the callbacks between slices find the collector as they left it."""
        capture = _Capture()
        try:
            with sliced_builds.guarded(capture.enter, capture.leave):
                initialize()
        except BaseException:
            _give_back(capture.take())  # a failed build keeps nothing
            raise
        held = _without_temporaries(capture.take())
        _untrack(held)  # nor is the list itself walked: it holds thousands of references
        self._held[weakref.ref(doc, self._forget)] = held

    def adopt(self, doc, roots: tuple) -> int:
        """`doc`'s session is about to be torn down: its shell (app/server/session_shell.py),
        older objects that would keep it from a young collection, joins what it holds. How
        many objects joined."""
        held = self._held.get(weakref.ref(doc))
        if held is None:
            return 0
        shell = session_shell.shell(held, roots)
        for obj in shell:
            _untrack(obj)
        held.extend(shell)
        return len(shell)

    def release(self, doc) -> int:
        """The session of `doc` has ended: a moment later, once the server has let go of it,
        its objects go back to the collector, all in the youngest generation, and a collection
        of that generation frees them (`collect_ended`). How many objects it had held."""
        held = self._held.pop(weakref.ref(doc), None)
        if held is None:
            return 0
        count = len(held)
        self._ended.append((time.monotonic() + ENDED_DELAY, weakref.ref(doc), held))
        del held  # nothing here may hold the session when it is collected
        self._schedule(ENDED_DELAY)
        return count

    def collect_ended(self) -> None:
        """Give the longest-ended session's objects back, young, and collect the youngest
        generation (only: a collection of an older one would move every other young object
        into the oldest, and bring the next full collection closer); then the next session's,
        a turn of the loop later (each is a few ms)."""
        self._collecting = None
        if not self._ended:
            return
        due, doc, held = self._ended[0]
        if due > time.monotonic() and self._on_loop():
            del held
            self._schedule(due - time.monotonic())
            return
        del self._ended[0]
        count = len(held)
        _give_back(held)
        del held
        gc.collect(0)
        if doc() is None:
            self.collected_young += 1
        else:
            self.collected_later += 1
            self._left_old(count)
        if self._ended:
            self._schedule(0.0)

    def _left_old(self, count: int) -> None:
        """A session of `count` objects was left old: collect it with the others left old,
        once they hold OLD_BATCH objects (a turn of the loop later) or OLD_WAIT from now."""
        self._old_objects += count
        if not self._on_loop():  # (tests) at once
            self.collect_old()
            return
        full = self._old_objects >= OLD_BATCH
        if self._collecting_old is not None:
            if not full:
                return
            self._collecting_old.cancel()
        delay = 0.0 if full else OLD_WAIT
        self._collecting_old = asyncio.get_running_loop().call_later(delay, self.collect_old)

    def collect_old(self) -> None:
        """One full collection for the sessions left old since the last one."""
        if self._collecting_old is not None:
            self._collecting_old.cancel()
            self._collecting_old = None
        if self._old_objects:
            self._old_objects = 0
            gc.collect()

    def _schedule(self, delay: float) -> None:
        if not self._on_loop():  # (tests) at once
            self.collect_ended()
        elif self._collecting is None:
            self._collecting = asyncio.get_running_loop().call_later(delay, self.collect_ended)

    @staticmethod
    def _on_loop() -> bool:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return False
        return True

    def _forget(self, key: weakref.ref) -> None:
        held = self._held.pop(key, None)
        if held is not None:
            _give_back(held)

    def release_all(self) -> None:
        """Give every held object back (at exit: none may be freed while untracked)."""
        while self._held:
            _, held = self._held.popitem()
            _give_back(held)
        while self._ended:
            _give_back(self._ended.pop()[2])


class _Capture:
    """The objects a build makes, gathered (and untracked) slice by slice: with automatic
    collection off, those the youngest generation gains meanwhile. What was there before is
    kept alive until the slice ends, so that no new object can take the address of one that
    died and be missed."""

    def __init__(self) -> None:
        self.objects: list = []
        self._before: list = []
        self._ids: set[int] = set()
        self._enabled = gc.isenabled()

    def enter(self) -> None:
        gc.disable()
        self._before = gc.get_objects(generation=0)
        self._ids = set(map(id, self._before))

    def leave(self) -> None:
        ids = self._ids
        before = self._before  # made since the slice began: itself not a session's object
        made = [obj for obj in gc.get_objects(generation=0)
                if id(obj) not in ids and obj is not before
                and not isinstance(obj, _LEFT_TRACKED)]  # fmt: skip
        self._before, self._ids = [], set()
        del before
        for obj in made:
            _untrack(obj)
        self.objects.extend(made)
        del made
        if self._enabled:
            gc.enable()

    def take(self) -> list:
        """What was made, handed over once: the capture (an older object) keeps no reference
        into the session, which would keep it from being collected young when it ends."""
        objects, self.objects = self.objects, []
        return objects


def _without_temporaries(made: list) -> list:
    """What a build made, less what only this capture still holds: in a build that runs in
    slices, a slice's temporaries (alive when it ended, done with later) were kept with the
    rest. Newest first, so that a temporary container lets go of what it held before that is
    looked at. Each goes back to the collector before this list lets it go (an object freed
    untracked may crash the interpreter)."""
    kept = []
    for index in range(len(made) - 1, -1, -1):
        obj = made[index]
        # The list's reference, `obj`'s and getrefcount's own: nobody else's.
        if sys.getrefcount(obj) <= 3 and not isinstance(obj, _KEEP_ALWAYS):
            if not gc.is_tracked(obj):
                _track(obj)
            made[index] = None
        else:
            kept.append(obj)
        del obj
    made.clear()
    return kept


def _give_back(held: list) -> None:
    """Track every held object again, in the youngest generation. Some are tracked already (a
    dict tracks itself again when a container is put in it) and may have grown old meanwhile:
    they are moved to the youngest generation too, or, old, they would keep the session alive
    through a young collection."""
    for obj in held:
        if gc.is_tracked(obj):
            _untrack(obj)
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
    from bokeh.server.contexts import ApplicationContext
    from bokeh.server.session import ServerSession

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

    destroy = ServerSession.destroy

    def destroy_session(self) -> None:
        """Before Bokeh and Panel take the session apart: its shell joins its heap."""
        target = heaps()
        doc = self._document
        if target is not None:
            target.adopt(doc, (self, doc, doc.session_context))
        destroy(self)

    ServerSession.destroy = destroy_session

    discard = ApplicationContext._discard_session

    async def _discard_session(self, session, should_discard):
        """Bokeh's expired-session sweep tears its sessions down one after another in one go;
        here one per turn of the loop (each is a few ms: Bokeh's, Panel's and the app's
        cleanup, and this module's), checked again after the turn."""
        await asyncio.sleep(0)
        if session.connection_count or session.expiration_blocked or not should_discard(session):
            return None
        return await discard(self, session, should_discard)

    ApplicationContext._discard_session = _discard_session
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
    """Panel's collection scheduled after sessions end: none (each ended session is collected
    young by its heap, `SessionHeaps.collect_ended`)."""
