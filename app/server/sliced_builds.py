"""Session builds that hand the event loop back every few milliseconds.

Panel builds a session on the one event loop every visitor shares: the page request runs the
page script (tens of ms of CPU: components, then their Bokeh models, then a walk of the whole
model graph), and the websocket's first message serializes the whole document. While that
runs, every other session waits: with visitors coming and going, most of the slow answers to
clicks were clicks that arrived during a build.

Here a build runs in a greenlet (the `greenlet` package: a second stack on the same thread, as
SQLAlchemy's asyncio layer uses it). At each new Bokeh model or Panel object, each model Bokeh
walks and each model serialized, the build checks its slice of time; once it is used up, it
switches back to the coroutine that drives it, which gives the event loop turns until it has
nothing else ready (the other sessions' clicks and messages run, each to its reply), then
switches back into the build where it stopped.
Same thread, same code, same order: only other callbacks run in between, and none of them can
reach the session being built (it has no connection yet; what its components schedule waits
for its session, as ever).

What a build sets for the whole process while it runs (Bokeh's property-validation flag, which
the app turns off while a page is built; its document on Bokeh's current-document stack; the
cycle collector's state and the objects a session keeps out of its reach,
app/server/session_heap.py) is put back as it was outside the build before every switch out,
and the build's own again after every switch in: the callbacks in between see the process as
if no build were under way. The current-document stack is shared with other threads (Bokeh
pushes on it wherever a document changes), so only the build's own entries move.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import time
import weakref
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import greenlet

T = TypeVar("T")

SLICE_SECONDS = 0.003  # how long a build runs before the loop's other callbacks get a turn
MOST_TURNS_WAITED = 8  # turns of the loop a build waits at most for it to have nothing ready


class _Build:
    """One build in progress: its greenlet, the end of its slice, the document it builds or
    serializes, and what it has set for the process (swapped with the state outside at every
    switch)."""

    __slots__ = ("curdocs", "deadline", "glet", "guards", "owner", "state", "whole")

    def __init__(self, glet: greenlet.greenlet, owner: object) -> None:
        self.glet = glet
        self.owner = owner
        self.deadline = 0.0
        self.guards: list[tuple[Callable[[], None], Callable[[], None]]] = []
        self.state: dict[str, Any] | None = None
        self.curdocs: list = []  # its entries on Bokeh's current-document stack
        self.whole = False  # no more switches: run to the end at once


_current: _Build | None = None  # the build whose slice runs now (on the loop's thread)
_waiting = 0  # builds waiting for their next turn


def _running() -> _Build | None:
    build = _current
    return build if build is not None and greenlet.getcurrent() is build.glet else None


def pause_point() -> None:
    """Where a build may hand the loop back: when its slice is used up (else, and outside a
    build, nothing happens)."""
    build = _current
    if build is None or build.whole or time.perf_counter() < build.deadline:
        return
    if greenlet.getcurrent() is build.glet:
        build.glet.parent.switch()


@contextlib.contextmanager
def guarded(enter: Callable[[], None], leave: Callable[[], None]) -> Iterator[None]:
    """Run `enter()` now and `leave()` at the end of the block; inside a build, also `leave()`
    before each switch out of it and `enter()` after each switch back in."""
    build = _running()
    enter()
    if build is not None:
        build.guards.append((enter, leave))
    try:
        yield
    finally:
        if build is not None:
            build.guards.remove((enter, leave))
        leave()


async def run(function: Callable[[], T], owner: object) -> T:
    """Run `function()`, which builds or reads the document `owner`, as a build: in slices of
    SLICE_SECONDS with the loop's other callbacks between them; its result, or what it raised. A
    build that has started always runs to its end: cancelled meanwhile, it finishes at once,
    then the cancellation goes on."""
    build = _Build(greenlet.greenlet(function), owner)
    build.glet.gr_context = contextvars.copy_context()
    try:
        result = _slice(build)
        while not build.glet.dead:
            await _next_turn()
            result = _slice(build)
        return result
    except BaseException:
        if not build.glet.dead:  # cancelled between two slices
            build.whole = True
            _slice(build)
        raise


async def _next_turn() -> None:
    """Give the loop a turn, and more while it has other callbacks ready (at most
    MOST_TURNS_WAITED): a click is a chain of callbacks (read the socket, decode, apply, reply),
    each queued behind whatever is ready when it is scheduled; a build that took a slice
    between each of them would add a slice to the click at every step."""
    global _waiting
    ready = getattr(asyncio.get_running_loop(), "_ready", ())  # asyncio's queue of callbacks
    _waiting += 1
    try:
        await asyncio.sleep(0)
        for _ in range(MOST_TURNS_WAITED):
            if len(ready) < _waiting:  # nothing ready but other waiting builds' next turns
                return
            await asyncio.sleep(0)
    finally:
        _waiting -= 1


def _slice(build: _Build) -> Any:
    """Switch into the build until its slice is used up or it ends."""
    global _current
    outside = _read()
    if build.state is not None:
        _write(build.state)
    _curdocs().extend(build.curdocs)
    for enter, _ in build.guards:
        enter()
    previous, _current = _current, build
    build.deadline = time.perf_counter() + SLICE_SECONDS
    try:
        return build.glet.switch()
    finally:
        _current = previous
        if not build.glet.dead:
            for _, leave in reversed(build.guards):
                leave()
            build.state = _read()
        build.curdocs = _take_curdocs(build.owner)
        _write(outside)


# -- what a build sets for the process ---------------------------------------------------------
def _read() -> dict[str, Any]:
    import bokeh.io as io
    from bokeh.application.handlers.code import CodeHandler
    from bokeh.core.property.bases import Property

    return {
        "validate": Property._should_validate,
        "io": {name: getattr(io, name) for name in CodeHandler._io_functions},  # show() etc.
    }


def _write(state: dict[str, Any]) -> None:
    import bokeh.io as io
    from bokeh.core.property.bases import Property

    Property._should_validate = state["validate"]
    for name, function in state["io"].items():
        setattr(io, name, function)


def _curdocs() -> list:
    from bokeh.io import doc

    return doc._PATCHED_CURDOCS  # what bokeh.io.curdoc() answers, the last entry first


def _take_curdocs(owner: object) -> list:
    """Take the build's own entries off Bokeh's current-document stack (those of its document),
    in order. The stack is shared by every thread (Bokeh pushes and pops on it wherever a
    document changes, also on a worker thread that schedules a callback), so entries are
    removed one by one, each by one atomic `list.remove`, never by rewriting the list."""
    stack = _curdocs()
    mine = [ref for ref in list(stack) if _document_of(ref) is owner]
    for ref in mine:
        stack.remove(ref)  # any entry of the same document: they are interchangeable
    return mine


def _document_of(ref) -> object:
    target = ref()
    return getattr(target, "_doc", target)  # an UnlockedDocumentProxy stands for its document


# -- wiring into Panel 1.9.4 and Bokeh 3.9.2 (checked with speedups.PANEL/BOKEH) ----------------
_built: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # document -> error or None


def install() -> None:
    """Builds of the served pages' sessions, and their first document pulls, run in slices."""
    _pause_where_builds_spend_their_time()
    _build_sessions_in_slices()
    _serialize_first_pulls_in_slices()


def _pause_where_builds_spend_their_time() -> None:
    import bokeh.model.util as model_util
    import param
    from bokeh.core.has_props import HasProps
    from bokeh.model import Model

    def after(method: Callable) -> Callable:
        def paused(self, *args, **kwargs):
            result = method(self, *args, **kwargs)
            pause_point()
            return result

        paused.__wrapped__ = method
        return paused

    def before(method: Callable) -> Callable:
        def paused(*args, **kwargs):
            pause_point()
            return method(*args, **kwargs)

        paused.__wrapped__ = method
        return paused

    HasProps.__init__ = after(HasProps.__init__)  # every Bokeh model made
    param.Parameterized.__init__ = after(param.Parameterized.__init__)  # every Panel object
    HasProps.to_serializable = before(HasProps.to_serializable)  # every model serialized
    # Bokeh's walks of a document's model graph, model by model (collect_models calls it by
    # its module's name) and its attaching of each new model.
    model_util.visit_immediate_value_references = before(
        model_util.visit_immediate_value_references
    )
    Model._attach_document = before(Model._attach_document)


def _build_sessions_in_slices() -> None:
    """Bokeh awaits the application's `on_session_created` and then calls its synchronous
    `initialize_document`: the build moves into the first, and the second finds it done."""
    import panel.io.application as panel_app

    created = panel_app.Application.on_session_created
    initialize = panel_app.Application.initialize_document

    async def on_session_created(self, session_context) -> None:
        await created(self, session_context)
        doc = session_context._document
        if session_context.server_context is None or _autoreload():
            return
        try:
            await run(lambda: initialize(self, doc), doc)
            _built[doc] = None
        except Exception as error:  # raised where the build used to raise: in initialize
            _built[doc] = error

    def initialize_document(self, doc) -> None:
        if doc not in _built:
            initialize(self, doc)
            return
        error = _built.pop(doc)
        if error is not None:
            raise error

    panel_app.Application.on_session_created = on_session_created
    panel_app.Application.initialize_document = initialize_document


def _serialize_first_pulls_in_slices() -> None:
    from bokeh.server.session import ServerSession, _needs_document_lock

    @_needs_document_lock
    async def _handle_pull(self, message, connection):
        """ServerSession._handle_pull of Bokeh 3.9.2, serialized in slices (holding the
        document's lock, as before: nothing changes the document meanwhile)."""
        msgid = message.header["msgid"]
        return await run(
            lambda: connection.protocol.create("PULL-DOC-REPLY", msgid, self.document),
            self.document,
        )

    ServerSession._handle_pull = _handle_pull


def _autoreload() -> bool:
    # Under --dev, Panel records the modules a page script imports while it runs: builds are
    # left whole, so that nothing run in between is counted as the page's.
    from panel.config import config

    return bool(config.autoreload)
