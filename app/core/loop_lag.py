"""How late the server's event loop runs what it is asked to run: the measure of responsiveness.

A `LoopLagProbe` asks the loop to call it back every `interval` seconds and records how late
each call came. While the loop is free the lag is a fraction of a millisecond; a callback that
blocks the loop for one second shows as about one second of lag.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class LagStats:
    """Lag figures, in milliseconds, over the probe's window."""

    p50_ms: float
    p99_ms: float
    max_ms: float
    samples: int
    window_s: float


def _percentile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class LoopLagProbe:
    """Measures an asyncio loop's lag by scheduling a tick every `interval` seconds.

    One per server process: `start(loop)` once, `stop()` at shutdown; `stats()` is safe to call
    from any thread."""

    def __init__(self, interval: float = 0.1, window: float = 60.0) -> None:
        self.interval = interval
        self.window = window
        self._samples: deque[tuple[float, float]] = deque(maxlen=int(window / interval) + 1)
        self._lock = threading.Lock()
        self._handle: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def running(self) -> bool:
        return self._handle is not None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start ticking on `loop` (call from the loop's own thread, or before it runs)."""
        if self._handle is not None:
            return
        self._loop = loop
        self._schedule()

    def stop(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None and self._loop is not None and not self._loop.is_closed():
            # A TimerHandle may only be cancelled on its loop's thread.
            self._loop.call_soon_threadsafe(handle.cancel)

    def _schedule(self) -> None:
        assert self._loop is not None
        due = time.monotonic() + self.interval
        self._handle = self._loop.call_later(self.interval, self._tick, due)

    def _tick(self, due: float) -> None:
        if self._handle is None:  # stopped
            return
        now = time.monotonic()
        lag = max(0.0, now - due)
        with self._lock:
            # While the loop was blocked, the ticks due every interval all waited too: record
            # each (lag, lag - interval, ...) so that p99 reflects a freeze, not only max.
            while True:
                self._samples.append((now, lag))
                lag -= self.interval
                if lag <= 0:
                    break
        self._schedule()

    def stats(self, window: float | None = None) -> LagStats:
        """p50, p99 and max lag over the last `window` seconds (the probe's whole window by
        default; zeros before the first tick)."""
        window = self.window if window is None else min(window, self.window)
        horizon = time.monotonic() - window
        with self._lock:
            lags = sorted(lag for at, lag in self._samples if at >= horizon)
        if not lags:
            return LagStats(0.0, 0.0, 0.0, 0, window)
        return LagStats(
            p50_ms=round(_percentile(lags, 0.50) * 1000, 2),
            p99_ms=round(_percentile(lags, 0.99) * 1000, 2),
            max_ms=round(lags[-1] * 1000, 2),
            samples=len(lags),
            window_s=window,
        )
