"""Session tickers tick without marking the app busy (app/components/ticker.py)."""

from __future__ import annotations

import asyncio

import panel as pn

from app.components.ticker import start_ticker
from tests.support.loops import run_async


def busy_events_while_ticking(start) -> tuple[int, int]:
    """(ticks, changes to Panel's process-wide busy counter) over three ticks of 20 ms."""
    changes: list = []
    watcher = pn.state.param.watch(changes.append, "_busy_counter")

    async def body() -> int:
        ticks = asyncio.Queue()
        ticker = start(lambda: ticks.put_nowait(1), 20)
        for _ in range(3):
            await asyncio.wait_for(ticks.get(), timeout=5)
        ticker.stop()
        return 3

    try:
        ticks = run_async(body)
    finally:
        pn.state.param.unwatch(watcher)
    return ticks, len(changes)


def test_ticks_do_not_touch_the_busy_counter() -> None:
    assert busy_events_while_ticking(start_ticker) == (3, 0)
    # Panel's default periodic callback does: that is the cost start_ticker avoids.
    ticks, changes = busy_events_while_ticking(
        lambda callback, period: pn.state.add_periodic_callback(callback, period=period)
    )
    assert ticks == 3 and changes >= 3
