"""The async-callbacks component without a server: the seed's texts, the task list, cancel,
the per-session bound, and tasks cancelled when the session ends."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from app.components.async_clicker import AsyncClicker
from tests.support.loops import run_async


def click(clicker: AsyncClicker, n: int) -> asyncio.Task:
    return asyncio.ensure_future(clicker._run(SimpleNamespace(new=n)))


def states(clicker: AsyncClicker) -> list[str]:
    return [row["state"] for row in clicker._table.rows]


def test_running_then_finished_concurrently() -> None:
    async def body() -> None:
        clicker = AsyncClicker(duration=0.2)
        tasks = [click(clicker, n) for n in (1, 2, 3)]
        await asyncio.sleep(0.05)
        assert clicker.status == "Running 3"
        assert states(clicker) == ["running"] * 3  # all three wait at once
        await asyncio.gather(*tasks)
        assert clicker.status == "Finished 3"
        assert states(clicker) == ["finished"] * 3

    run_async(body)


def test_cancel_one_task() -> None:
    async def body() -> None:
        clicker = AsyncClicker(duration=5)
        tasks = [click(clicker, n) for n in (1, 2)]
        await asyncio.sleep(0.01)
        clicker._cancel(1)
        await tasks[0]
        assert clicker.status == "Cancelled 1"
        assert states(clicker) == ["cancelled", "running"]
        clicker._cancel(2)
        await tasks[1]

    run_async(body)


def test_a_click_past_the_bound_starts_nothing() -> None:
    async def body() -> None:
        clicker = AsyncClicker(duration=5, max_tasks=2)
        tasks = [click(clicker, n) for n in (1, 2, 3)]
        await asyncio.sleep(0.01)
        assert clicker.message == (
            "Click 3 started nothing: 2 tasks are running, the most one session may have."
        )
        assert clicker.status == "Running 2"
        # What the page shows: the status beside the button, the refusal above the tasks.
        assert clicker._status_text.text == "Running 2"
        assert clicker._table.warning == clicker.message
        assert len(clicker._table.rows) == 2
        clicker._session.close()
        await asyncio.gather(*tasks)

    run_async(body)


def test_tasks_are_cancelled_when_the_session_ends_and_write_nothing() -> None:
    async def body() -> None:
        clicker = AsyncClicker(duration=5)
        tasks = [click(clicker, n) for n in (1, 2)]
        await asyncio.sleep(0.01)
        shown = list(clicker._table.rows)
        clicker._session.close()
        await asyncio.gather(*tasks)
        assert all(task.done() and not task.cancelled() for task in tasks)
        assert clicker.status == "Running 2"  # nothing written into the closed page
        assert clicker._table.rows == shown
        assert [r.state for r in clicker._tasks.values()] == ["cancelled", "cancelled"]

    run_async(body)


def test_the_list_keeps_a_bounded_history() -> None:
    async def body() -> None:
        clicker = AsyncClicker(duration=0)
        for n in range(1, 31):
            await click(clicker, n)
        assert len(clicker._table.rows) == 20
        assert clicker._table.rows[0]["id"] == 11

    run_async(body)
