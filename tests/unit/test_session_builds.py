"""Session builds (app/server/session_builds.py): a page's document is built on the build
thread, one at a time, kept by the session heaps, and handed to the event loop's thread."""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import Iterator

import bokeh.io.doc as bokeh_doc
import pytest
from bokeh.document import Document
from panel.io.state import state

from app.server.session_builds import SessionBuilds, _PerThreadStack
from app.server.session_heap import SessionHeaps


@pytest.fixture
def builds() -> Iterator[SessionBuilds]:
    builds = SessionBuilds(SessionHeaps())
    yield builds
    builds.stop()
    builds.heaps.release_all()


def test_a_page_is_built_on_the_build_thread_and_handed_to_the_loops_thread(builds) -> None:
    doc, where = Document(), []

    async def main() -> int:
        await builds.build(doc, lambda: where.append(threading.current_thread()))
        return threading.get_ident()

    loop_thread = asyncio.run(main())
    assert where[0].ident != loop_thread and where[0].name.startswith("session-build")
    assert state._thread_id_[doc] == loop_thread  # Panel's claim: the loop's, not the builder's
    assert builds.built == 1 and builds.heaps.sessions == 1
    assert gc.isenabled()


def test_builds_run_one_at_a_time_in_the_order_asked(builds) -> None:
    steps: list[str] = []

    def build(name: str):
        def initialize() -> None:
            steps.append(f"{name} starts")
            sum(range(200_000))  # some work, during which another build could interleave
            steps.append(f"{name} ends")

        return initialize

    docs = [Document() for _ in range(3)]  # alive: a document that dies gives its heap back

    async def main() -> None:
        await asyncio.gather(*(builds.build(d, build(str(i))) for i, d in enumerate(docs)))

    asyncio.run(main())
    assert steps == [f"{i} {what}" for i in "012" for what in ("starts", "ends")]
    assert builds.heaps.sessions == 3


def test_a_failed_build_keeps_nothing_and_hands_the_document_back(builds) -> None:
    doc = Document()

    def fail() -> None:
        raise RuntimeError("the page script failed")

    async def main() -> int:
        with pytest.raises(RuntimeError):
            await builds.build(doc, fail)
        return threading.get_ident()

    loop_thread = asyncio.run(main())
    assert state._thread_id_[doc] == loop_thread
    assert builds.heaps.sessions == 0 and builds.built == 0 and gc.isenabled()


def test_a_cancelled_request_still_waits_for_its_build_to_end(builds) -> None:
    """The heap of a build may only be taken once the build thread is done with it."""
    started, release = threading.Event(), threading.Event()

    def initialize() -> None:
        started.set()
        release.wait(10)

    async def main() -> None:
        task = asyncio.ensure_future(builds.build(Document(), initialize))
        await asyncio.to_thread(started.wait, 10)
        task.cancel()
        await asyncio.sleep(0.05)  # the build is still running: the task must not have ended
        assert not task.done()
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert builds.heaps.sessions == 0 and gc.isenabled()


def test_once_stopped_pages_are_built_on_the_loop(builds) -> None:
    builds.stop()
    where: list[int] = []
    doc = Document()

    async def main() -> int:
        await builds.build(doc, lambda: where.append(threading.get_ident()))
        return threading.get_ident()

    assert where == [asyncio.run(main())]
    assert builds.built == 0 and builds.heaps.sessions == 1


def test_bokehs_current_document_is_one_per_thread(monkeypatch) -> None:
    """A page script's current document (the build thread's) is not the loop's callbacks'."""
    monkeypatch.setattr(bokeh_doc, "_PATCHED_CURDOCS", _PerThreadStack())
    mine, theirs = Document(), Document()
    inside, seen = threading.Event(), threading.Event()
    other: list[Document] = []

    def build() -> None:
        with bokeh_doc.patch_curdoc(theirs):
            other.append(bokeh_doc.curdoc())
            inside.set()
            seen.wait(10)

    thread = threading.Thread(target=build)
    thread.start()
    inside.wait(10)
    with bokeh_doc.patch_curdoc(mine):
        assert bokeh_doc.curdoc() is mine
    seen.set()
    thread.join(10)
    assert other == [theirs] and len(bokeh_doc._PATCHED_CURDOCS) == 0
