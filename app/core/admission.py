"""Whether a page request may build a new session, or is answered "busy, retry in N s".

Building a page's session costs the server's event loop real work (every visitor waits while
it runs), and a session that never connects costs memory until it expires. So new sessions are
bounded twice: per client (a token bucket: a burst, then a steady rate) and per process (live
plus still-loading sessions). A refused request costs almost nothing: a short 503 page.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from app.core.limits import PerClient


@dataclass(frozen=True)
class Busy:
    """Why a request was refused, and when to come back."""

    reason: str
    retry_after: int  # seconds


class Admission:
    """At most `max_sessions` sessions in the process, and `per_minute` new sessions per client
    after a burst of `burst`."""

    def __init__(
        self, max_sessions: int, per_minute: float, burst: int, sessions: Callable[[], int]
    ) -> None:
        self.max_sessions = max_sessions
        self._sessions = sessions
        self._clients = PerClient(per_minute, burst)

    def full(self) -> bool:
        return self._sessions() >= self.max_sessions

    def admit(self, client: str) -> Busy | None:
        """None if `client` may open a session now."""
        if self.full():
            return Busy(
                f"this server has {self.max_sessions} sessions open, the most it takes", 10
            )
        wait = self._clients.take(client)
        if wait > 0:
            return Busy("too many new pages from your address", max(1, math.ceil(wait)))
        return None
