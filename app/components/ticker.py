"""Periodic callbacks of a session that do not mark the app as busy.

`pn.state.add_periodic_callback` registers every tick as a "busy" event in Panel's one
process-wide busy counter: each tick of each session rebuilds that list and sets `pn.state.busy`,
so with many sessions ticking (live streams, monitors, task lists) most of the server's time
goes to bookkeeping for a busy spinner nobody shows (measured with py-spy under the benchmark
load). A background PeriodicCallback is Panel's own way to skip that, as Panel does for its own
periodic cleanup. Ticks still run on the session's document, with its lock when the callback is
async.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from panel.io.callbacks import PeriodicCallback


def start_ticker(callback: Callable[[], Awaitable[None] | None], period: int) -> PeriodicCallback:
    """Call `callback` every `period` ms in the current session until `.stop()` (or the
    session's end: Bokeh drops a destroyed document's callbacks)."""
    ticker = PeriodicCallback(callback=callback, period=period, background=True, log=False)
    ticker.start()
    return ticker
