"""Session heaps (app/server/session_heap.py): what a session builds is out of the cycle
collector's reach while it lives, and collected when it ends; nothing else is touched."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator

import pytest

from app.server import session_heap, sliced_builds
from app.server.session_heap import SessionHeaps, _run_destroyed_callbacks
from tests.support.waiting import await_until


class Node:
    """A cycle of two objects: only the cycle collector can free it."""

    def __init__(self) -> None:
        self.other = Other(self)


class Other:
    def __init__(self, node: Node) -> None:
        self.node = node


class Doc:
    """Stands for a Bokeh document (weakly referenceable, as the heaps key on it)."""


@pytest.fixture
def heaps() -> Iterator[SessionHeaps]:
    heaps = SessionHeaps()
    yield heaps
    heaps.release_all()


def build_cycle(heaps: SessionHeaps, doc: Doc, keep: list | None = None) -> weakref.ref:
    made: list[weakref.ref] = []

    def initialize() -> None:
        node = Node()
        made.append(weakref.ref(node))
        if keep is not None:
            keep.append(node)

    heaps.build(doc, initialize)
    return made[0]


def test_what_a_session_built_is_held_out_of_the_collector_until_it_ends(heaps) -> None:
    doc = Doc()
    node = build_cycle(heaps, doc)
    assert not gc.is_tracked(node())
    assert heaps.sessions == 1 and heaps.objects >= 2
    gc.collect()
    assert node() is not None  # garbage or not, it lives with its session
    assert heaps.release(doc) >= 2
    assert node() is None  # the release's young collection freed the cycle
    assert heaps.sessions == 0 and heaps.release(doc) == 0


def test_an_object_still_used_elsewhere_survives_its_sessions_end(heaps) -> None:
    doc, elsewhere = Doc(), []
    node = build_cycle(heaps, doc, keep=elsewhere)
    heaps.release(doc)
    gc.collect()
    assert node() is elsewhere[0] and gc.is_tracked(elsewhere[0])


def test_objects_made_outside_a_build_are_left_alone(heaps) -> None:
    before = Node()
    heaps.build(Doc(), lambda: None)
    assert gc.is_tracked(before) and gc.is_tracked(before.__dict__)


def test_collection_stays_on_while_building_and_after(heaps) -> None:
    seen: list[bool] = []
    heaps.build(Doc(), lambda: seen.append(gc.isenabled()))
    assert seen == [False] and gc.isenabled()
    gc.disable()
    try:
        heaps.build(Doc(), lambda: None)
        assert not gc.isenabled()  # a caller's choice is kept
    finally:
        gc.enable()


def test_a_held_dict_that_tracked_itself_again_is_given_back_once(heaps) -> None:
    doc, made = Doc(), []
    heaps.build(doc, lambda: made.append({"n": Node()}))
    table = made[0]
    assert not gc.is_tracked(table)
    table["again"] = Node()  # CPython tracks a dict again when a container goes into it
    assert gc.is_tracked(table)
    heaps.release(doc)  # tracking an object twice would abort the interpreter
    assert gc.is_tracked(table)


def test_running_computations_are_left_tracked(heaps) -> None:
    made = []

    async def waiting() -> None:
        await asyncio.sleep(0)

    heaps.build(Doc(), lambda: made.append(waiting()))
    assert gc.is_tracked(made[0])
    made[0].close()


def test_a_document_gone_without_a_release_gives_its_objects_back(heaps) -> None:
    """Freeing an untracked object crashes the interpreter: a document that dies while its
    objects are held (its session never ended through Bokeh) hands them back first."""
    doc, elsewhere = Doc(), []
    node = build_cycle(heaps, doc, keep=elsewhere)
    assert not gc.is_tracked(elsewhere[0])
    del doc
    assert heaps.sessions == 0 and gc.is_tracked(elsewhere[0])
    elsewhere.clear()
    gc.collect()
    assert node() is None


def test_a_failed_build_keeps_nothing(heaps) -> None:
    made: list[Node] = []

    def fail() -> None:
        made.append(Node())
        raise RuntimeError("the page script failed")

    with pytest.raises(RuntimeError):
        heaps.build(Doc(), fail)
    assert heaps.sessions == 0 and gc.is_tracked(made[0]) and gc.isenabled()


def test_release_all_gives_every_object_back(heaps) -> None:
    docs = [Doc(), Doc()]
    nodes = [build_cycle(heaps, doc, keep=[]) for doc in docs]
    heaps.release_all()
    assert heaps.sessions == 0
    assert all(gc.is_tracked(node()) for node in nodes)


class _Context:
    def __init__(self, document) -> None:
        self._document = document


def test_destroyed_callbacks_run_once_without_a_full_collection() -> None:
    document = type("Document", (), {})()
    calls: list[object] = []
    document.session_destroyed_callbacks = {calls.append, lambda ctx: 1 / 0}
    full = []

    def watch(phase: str, info: dict) -> None:
        if phase == "start" and info["generation"] == 2:
            full.append(info)

    gc.callbacks.append(watch)
    try:
        context = _Context(document)
        asyncio.run(_run_destroyed_callbacks(None, context))
        asyncio.run(_run_destroyed_callbacks(None, context))
    finally:
        gc.callbacks.remove(watch)
    assert calls == [context]  # once; the failing callback did not stop the others
    assert full == []


# -- an ended session is collected young --------------------------------------------------------
def end_session(heaps: SessionHeaps, adopt: bool) -> tuple[weakref.ref, weakref.ref]:
    """A session whose build made a cycle, which an older object (made before the build, as a
    Document is) belongs to; ended as the server ends it, on a loop: adopted (or not) before
    its release, released, collected a moment later. Weak references to its document and to
    the cycle."""

    async def main() -> tuple[weakref.ref, weakref.ref]:
        doc, made = Doc(), []
        older = {"document": doc}  # made before the build, then old

        def initialize() -> None:
            node = Node()
            node.older, older["node"] = older, node
            made.append(weakref.ref(node))

        heaps.build(doc, initialize)
        gc.collect()  # what was not built is in the oldest generation now
        if adopt:
            heaps.adopt(doc, roots=(older,))
        ref = weakref.ref(doc)
        heaps.release(doc)
        doc = older = None  # the server lets go of it
        # ENDED_DELAY, then collected
        await await_until(lambda: heaps.collected_young + heaps.collected_later > 0)
        return ref, made[0]

    return asyncio.run(asyncio.wait_for(main(), timeout=10))


def test_an_ended_session_with_its_shell_adopted_is_freed_by_a_young_collection(heaps) -> None:
    doc, node = end_session(heaps, adopt=True)
    assert doc() is None and node() is None
    assert (heaps.collected_young, heaps.collected_later) == (1, 0)


def test_an_older_object_left_out_keeps_the_session_for_a_full_collection(heaps) -> None:
    doc, node = end_session(heaps, adopt=False)
    assert node() is not None  # the young collection could not free it...
    assert (heaps.collected_young, heaps.collected_later) == (0, 1)
    gc.collect()
    assert doc() is None and node() is None  # ...a full one does


def end_sessions_left_old(heaps: SessionHeaps, count: int) -> tuple[list[weakref.ref], int]:
    """`count` sessions ended as in `end_session`, none adopted, so that each is left old, with
    automatic collection off: weak references to their documents once the heap has found each
    left old and they were freed (waiting at most 10 s), and how many full collections the
    process made meanwhile."""
    full: list[int] = []

    def watch(phase: str, info: dict) -> None:
        if phase == "start" and info["generation"] == 2:
            full.append(1)

    async def main() -> list[weakref.ref]:
        refs = []
        for _ in range(count):
            doc = Doc()
            older = {"document": doc}  # made before the build, old when the session ends

            def initialize(older: dict = older) -> None:
                node = Node()
                node.older, older["node"] = older, node

            heaps.build(doc, initialize)
            gc.collect()
            refs.append(weakref.ref(doc))
            heaps.release(doc)
            doc = older = initialize = None
        gc.callbacks.append(watch)
        await await_until(lambda: heaps.collected_young + heaps.collected_later >= count)
        assert heaps.collected_later == count  # the young collections left them all
        for _ in range(1000):
            if all(ref() is None for ref in refs):
                break
            await asyncio.sleep(0.01)
        return refs

    gc.disable()
    try:
        refs = asyncio.run(asyncio.wait_for(main(), timeout=20))
    finally:
        gc.enable()
        if watch in gc.callbacks:
            gc.callbacks.remove(watch)
    return refs, len(full)


def test_sessions_left_old_are_freed_as_soon_as_they_hold_a_batch(heaps, monkeypatch) -> None:
    # One session's objects fill a batch; the collection would otherwise wait a minute.
    monkeypatch.setattr(session_heap, "OLD_BATCH", 1)
    monkeypatch.setattr(session_heap, "OLD_WAIT", 60.0)
    refs, full = end_sessions_left_old(heaps, 3)
    assert all(ref() is None for ref in refs) and 1 <= full <= 3


def test_sessions_left_old_wait_at_most_old_wait_for_their_collection(heaps, monkeypatch) -> None:
    # A batch they never fill: the one full collection OLD_WAIT after the first frees all three.
    monkeypatch.setattr(session_heap, "OLD_BATCH", 10**9)
    monkeypatch.setattr(session_heap, "OLD_WAIT", 0.2)
    refs, full = end_sessions_left_old(heaps, 3)
    assert all(ref() is None for ref in refs) and full == 1


def test_a_held_object_that_tracked_itself_again_and_grew_old_is_given_back_young(heaps) -> None:
    async def main() -> weakref.ref:
        doc, made = Doc(), []
        heaps.build(doc, lambda: made.append(({"rows": []}, Node())))
        table, node = made[0]
        table["node"], node.table = node, table  # the built dicts track themselves again...
        gc.collect()  # ...and are old now
        ref = weakref.ref(node)
        heaps.release(doc)
        doc = table = node = None
        made.clear()
        await await_until(lambda: heaps.collected_young + heaps.collected_later > 0)
        return ref

    node = asyncio.run(asyncio.wait_for(main(), timeout=10))
    assert node() is None and heaps.collected_young == 1


class Leaf:
    """An object without a cycle: reference counting frees it once nobody holds it."""


def test_a_slice_s_temporaries_are_not_kept_with_the_session(heaps, monkeypatch) -> None:
    """In a build that runs in slices, what was alive when a slice ended but was done with
    later is not held until the session ends; what the build made and keeps is."""
    monkeypatch.setattr(sliced_builds, "SLICE_SECONDS", 0.0)  # every pause point switches
    doc, refs, kept = Doc(), [], []

    def initialize() -> None:
        temporary = {"leaf": Leaf()}
        refs.append(weakref.ref(temporary["leaf"]))
        sliced_builds.pause_point()  # the slice ends with the temporary alive
        del temporary
        kept.append(Leaf())

    asyncio.run(sliced_builds.run(lambda: heaps.build(doc, initialize), doc))
    assert refs[0]() is None  # the temporary was freed
    assert not gc.is_tracked(kept[0]) and heaps.objects >= 1  # the build's own object is held
