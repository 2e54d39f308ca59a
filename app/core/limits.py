"""Rate limits: a token bucket, one per client in a bounded table, and a one-at-a-time gate.

Everything a visitor can repeat (opening sessions, failing a login, freezing the server on
purpose) goes through one of these, so that no visitor can do it a million times.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable


class TokenBucket:
    """`burst` tokens, refilled at `rate` per second; `take()` spends one if there is one."""

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate, self.burst = rate, burst
        self.tokens, self.at = burst, now

    def _refill(self, now: float) -> None:
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now

    def take(self, now: float) -> bool:
        self._refill(now)
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False

    def wait(self, now: float) -> float:
        """Seconds until the next token."""
        self._refill(now)
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate


class PerClient:
    """A token bucket per client key, in a table of at most `max_clients` (the least recently
    seen are forgotten: a forgotten client starts again with a full bucket)."""

    def __init__(
        self, per_minute: float, burst: float, max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:  # fmt: skip
        self.rate, self.burst = per_minute / 60.0, burst
        self.max_clients = max_clients
        self.clock = clock
        self._lock = threading.Lock()
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def take(self, client: str) -> float:
        """Spend one of the client's tokens: 0 if it may go on, else seconds until it may."""
        now = self.clock()
        with self._lock:
            bucket = self._buckets.pop(client, None) or TokenBucket(self.rate, self.burst, now)
            self._buckets[client] = bucket
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
            return 0.0 if bucket.take(now) else bucket.wait(now)

    def peek(self, client: str) -> float:
        """Like `take`, without spending: 0 if the client has a token, else seconds to wait."""
        now = self.clock()
        with self._lock:
            bucket = self._buckets.get(client)
            return 0.0 if bucket is None else bucket.wait(now)

    def clear(self, client: str) -> None:
        with self._lock:
            self._buckets.pop(client, None)


class Gate:
    """One at a time, and at most once every `min_interval` seconds, process-wide."""

    def __init__(self, min_interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.min_interval = min_interval
        self.clock = clock
        self._lock = threading.Lock()
        self._busy = False
        self._last = float("-inf")

    def enter(self) -> float | None:
        """None if it may go now (then `leave()` after); else seconds to wait (0: busy now)."""
        now = self.clock()
        with self._lock:
            if self._busy:
                return 0.0
            wait = self._last + self.min_interval - now
            if wait > 0:
                return wait
            self._busy = True
            return None

    def leave(self) -> None:
        with self._lock:
            self._busy = False
            self._last = self.clock()
