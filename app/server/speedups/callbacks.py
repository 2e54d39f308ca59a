"""Speedups of a session's periodic callbacks (see the package's docstring)."""

from __future__ import annotations


def stopped_periodic_callbacks_let_go() -> None:
    """Bokeh's periodic callback, once stopped (as every one is when its session ends), keeps
    its pending sleep timer until it fires, up to a period later (a second for the pages'
    tickers), and its callback for good; the timer, and the closures of its chain (older than
    the session's end), hold the callback and through it the whole ended session, which so
    outlives the young collection at its end and waits for the next full one. Keep the pending
    sleep and, on stop, cancel its timer and end it at once, and drop the callback (a stopped
    one is never called again): the chain finishes as it would have when the timer fired (its
    last error still logged), then lets go."""
    from bokeh.util.tornado import _AsyncPeriodic
    from tornado import gen

    def sleep(self):
        """_AsyncPeriodic.sleep of Bokeh 3.9.2, but for keeping the pending sleep."""
        future = gen.Future()
        timer = self._loop.call_later(self._period / 1000.0, _wake, future)
        self._pending_sleep = (timer, future)
        return future

    def stop(self):
        self._stopped = True
        self._func = _no_callback  # never called again; its session must not be held by it
        pending, self._pending_sleep = getattr(self, "_pending_sleep", None), None
        if pending is not None:  # on the loop, as the timer and the future must be
            self._loop.add_callback(_wake_now, self._loop, *pending)

    _AsyncPeriodic.sleep = sleep
    _AsyncPeriodic.stop = stop


def _no_callback() -> None:
    return None


def _wake(future) -> None:
    if not future.done():
        future.set_result(None)


def _wake_now(loop, timer, future) -> None:
    loop.remove_timeout(timer)
    _wake(future)
