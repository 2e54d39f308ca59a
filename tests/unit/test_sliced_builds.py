"""Builds in slices (app/server/sliced_builds.py): the loop's other callbacks run between the
slices of a build, the build's result and errors come out as before, a started build always
finishes, and what a build sets for the process is its own."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import weakref

import pytest
from bokeh.core.property.bases import Property
from bokeh.core.property.validation import validate
from bokeh.document import Document
from bokeh.io import curdoc
from bokeh.io.doc import patch_curdoc

from app.server import sliced_builds
from app.server.sliced_builds import guarded, pause_point, run

DOC = Document()  # the document a build builds


@pytest.fixture
def every_pause_switches(monkeypatch) -> None:
    """Slices of no length: every pause point hands the loop back."""
    monkeypatch.setattr(sliced_builds, "SLICE_SECONDS", 0.0)


def steps(log: list, name: str, count: int):
    def build() -> str:
        for i in range(count):
            log.append((name, i))
            pause_point()
        return f"{name} done"

    return build


def test_other_callbacks_run_between_the_slices_of_a_build(every_pause_switches) -> None:
    log: list = []

    async def main() -> str:
        asyncio.get_running_loop().call_soon(log.append, "a click")
        return await run(steps(log, "build", 3), DOC)

    assert asyncio.run(main()) == "build done"
    assert log == [("build", 0), "a click", ("build", 1), ("build", 2)]


def test_a_chain_of_callbacks_runs_to_its_end_before_the_next_slice(
    every_pause_switches,
) -> None:
    """A click is a chain of callbacks, each scheduling the next (read, decode, apply, reply):
    the build waits for the loop to have nothing ready, not for one turn only."""
    log: list = []

    def chain(step: int) -> None:
        log.append(f"click step {step}")
        if step < 3:
            asyncio.get_running_loop().call_soon(chain, step + 1)

    async def main() -> None:
        asyncio.get_running_loop().call_soon(chain, 1)
        await run(steps(log, "build", 2), DOC)

    asyncio.run(main())
    assert log == [("build", 0), "click step 1", "click step 2", "click step 3", ("build", 1)]


def test_a_build_runs_whole_while_its_slice_lasts() -> None:
    log: list = []

    async def main() -> None:
        asyncio.get_running_loop().call_soon(log.append, "a click")
        await run(steps(log, "build", 3), DOC)

    asyncio.run(main())  # three pause points take far less than a slice
    assert log == [("build", 0), ("build", 1), ("build", 2), "a click"]


def test_two_builds_take_turns(every_pause_switches) -> None:
    log: list = []

    async def main() -> list:
        return await asyncio.gather(run(steps(log, "a", 2), DOC), run(steps(log, "b", 2), DOC))

    assert asyncio.run(main()) == ["a done", "b done"]
    assert log == [("a", 0), ("b", 0), ("a", 1), ("b", 1)]


def test_what_a_build_raises_comes_out_of_run(every_pause_switches) -> None:
    def failing() -> None:
        pause_point()
        raise ValueError("the page script failed")

    with pytest.raises(ValueError, match="page script failed"):
        asyncio.run(run(failing, DOC))


def test_a_cancelled_build_finishes_before_the_cancellation_goes_on(every_pause_switches) -> None:
    log: list = []

    async def main() -> None:
        task = asyncio.ensure_future(run(steps(log, "build", 4), DOC))
        await asyncio.sleep(0)  # the first slice has run
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert log == [("build", i) for i in range(4)]


def test_the_validation_a_build_turns_off_stays_off_only_inside_it(every_pause_switches) -> None:
    seen: list = []

    def build() -> None:
        with validate(False):
            seen.append(("build", Property._should_validate))
            pause_point()
            seen.append(("build", Property._should_validate))

    async def main() -> None:
        asyncio.get_running_loop().call_soon(lambda: seen.append(("click", validate_on())))
        await run(build, DOC)

    asyncio.run(main())
    assert seen == [("build", False), ("click", True), ("build", False)]
    assert Property._should_validate


def validate_on() -> bool:
    return Property._should_validate


def test_the_current_document_a_build_patches_is_its_own(every_pause_switches) -> None:
    doc, outside, seen = Document(), Document(), []

    def build() -> None:
        with patch_curdoc(doc):
            pause_point()
            seen.append(("build", curdoc() is doc))

    async def main() -> None:
        with patch_curdoc(outside):
            asyncio.get_running_loop().call_soon(lambda: seen.append(("click", curdoc())))
            await run(build, doc)

    asyncio.run(main())
    assert seen[0] == ("click", outside) and seen[1] == ("build", True)


def test_another_thread_s_entry_on_the_current_document_stack_is_left_alone(
    every_pause_switches,
) -> None:
    """Bokeh pushes and pops its current-document stack on any thread where a document
    changes (a worker scheduling a callback): a switch moves the build's entries only."""
    doc, elsewhere = Document(), Document()
    stack = sliced_builds._curdocs()
    foreign = weakref.ref(elsewhere)

    def build() -> None:
        with patch_curdoc(doc):
            stack.append(foreign)  # a worker thread's push, mid-slice
            pause_point()
            assert curdoc() is doc  # the build's own entry is back on top
            stack.remove(foreign)  # ...and the worker's pop

    async def main() -> list:
        seen: list = []
        asyncio.get_running_loop().call_soon(lambda: seen.append(list(stack)))
        await run(build, doc)
        return seen

    between = asyncio.run(main())
    assert between == [[foreign]]  # the worker's entry stayed; the build's did not
    assert stack == []


def test_guards_leave_before_each_switch_out_and_enter_after_each_switch_in(
    every_pause_switches,
) -> None:
    log: list = []

    def build() -> None:
        with guarded(lambda: log.append("enter"), lambda: log.append("leave")):
            pause_point()
            log.append("resumed")

    async def main() -> None:
        asyncio.get_running_loop().call_soon(log.append, "click")
        await run(build, DOC)

    asyncio.run(main())
    assert log == ["enter", "leave", "click", "enter", "resumed", "leave"]


def test_pause_points_outside_a_build_do_nothing(every_pause_switches) -> None:
    pause_point()  # no build
    outside: list = []
    thread = threading.Thread(target=lambda: (pause_point(), outside.append("ran on")))

    def build() -> None:
        thread.start()  # another thread's pause point, while a build's slice runs
        thread.join()

    asyncio.run(run(build, DOC))
    assert outside == ["ran on"]


def test_served_page_builds_run_in_slices_and_are_complete() -> None:
    """Panel's and Bokeh's own session creation, wired as the server wires it: a ticking
    task runs while a page of many widgets is built; the document is complete afterwards,
    and Bokeh's initialize_document finds it built (no second build)."""
    code = """
import asyncio, time, weakref
import panel as pn
from bokeh.application.handlers.function import FunctionHandler
from bokeh.document import Document
from bokeh.server.contexts import BokehSessionContext
from panel.io.application import Application
from app.server import sliced_builds

sliced_builds.install()
builds = []

def page(doc):
    builds.append(doc)
    pn.Column(*[pn.widgets.Button(name=f"b{i}") for i in range(150)]).server_doc(doc)

async def main():
    app = Application(FunctionHandler(page))
    doc = Document()
    context = BokehSessionContext("s", object(), doc)  # a server's session (any server)
    doc._session_context = weakref.ref(context)
    ticks = []
    async def tick():
        while True:
            ticks.append(time.perf_counter())
            await asyncio.sleep(0)
    ticking = asyncio.ensure_future(tick())
    await asyncio.sleep(0)
    started = time.perf_counter()
    await app.on_session_created(context)
    ended = time.perf_counter()
    ticking.cancel()
    app.initialize_document(doc)
    during = sum(started < t < ended for t in ticks)
    buttons = sum(type(model).__name__ == "Button" for model in doc.models)
    print(len(builds), buttons, during > 1)

asyncio.run(main())
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1", "150", "True"]


def test_a_failed_sliced_build_fails_where_bokeh_expects_it() -> None:
    """The page script's error comes out of initialize_document (where Bokeh handles it),
    not out of the session-created hooks, and the script is not run a second time."""
    code = """
import asyncio, weakref
from bokeh.application.handlers.function import FunctionHandler
from bokeh.document import Document
from bokeh.server.contexts import BokehSessionContext
from panel.io.application import Application
from app.server import sliced_builds

sliced_builds.install()
runs = []

def page(doc):
    runs.append(doc)
    raise RuntimeError("the page script failed")

async def main():
    app = Application(FunctionHandler(page))
    doc = Document()
    context = BokehSessionContext("s", object(), doc)
    doc._session_context = weakref.ref(context)
    await app.on_session_created(context)
    try:
        app.initialize_document(doc)
    except RuntimeError as error:
        print(len(runs), error)

asyncio.run(main())
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1 the page script failed"
