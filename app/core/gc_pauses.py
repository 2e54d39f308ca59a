"""How long Python's garbage collector stops this process, collection by collection.

A collection of the oldest generation walks every tracked object, holding the GIL: every thread,
the event loop included, waits meanwhile. `GcPauses` times each collection through
`gc.callbacks` and keeps the recent ones, so the monitor and /health can show the longest pause.

No lock: a collection can start at any allocation, also in a thread that holds a lock the
callback would take (a deadlock). The callback only appends to a deque, which is atomic, and
`stats` copies it again if a collection changed it meanwhile.
"""

from __future__ import annotations

import gc
import time
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class GcStats:
    """Garbage-collection pauses over a window, in milliseconds."""

    collections: int
    max_ms: float
    total_ms: float
    oldest_generation: int  # collections of generation 2 in the window
    window_s: float


class GcPauses:
    """Times every garbage collection of the process while installed (`start`/`stop`)."""

    def __init__(self, window: float = 60.0, keep: int = 10_000) -> None:
        self.window = window
        self._pauses: deque[tuple[float, float, int]] = deque(maxlen=keep)  # end, ms, generation
        self._started: float | None = None

    def start(self) -> None:
        if self._callback not in gc.callbacks:
            gc.callbacks.append(self._callback)

    def stop(self) -> None:
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)

    def _callback(self, phase: str, info: dict) -> None:
        now = time.perf_counter()
        if phase == "start":
            self._started = now
        elif self._started is not None:
            pause = (now - self._started) * 1000
            self._started = None
            self._pauses.append((time.monotonic(), pause, info.get("generation", 0)))

    def stats(self, window: float | None = None) -> GcStats:
        window = self.window if window is None else window
        horizon = time.monotonic() - window
        for _ in range(10):
            try:
                pauses = list(self._pauses)
                break
            except RuntimeError:  # a collection appended while this copied: copy again
                continue
        else:
            pauses = []
        recent = [(ms, gen) for at, ms, gen in pauses if at >= horizon]
        return GcStats(
            collections=len(recent),
            max_ms=round(max((ms for ms, _ in recent), default=0.0), 2),
            total_ms=round(sum(ms for ms, _ in recent), 2),
            oldest_generation=sum(1 for _, gen in recent if gen == 2),
            window_s=window,
        )
