"""Who is told that jobs changed: listeners per owner, and listeners of the queue's figures.

Listeners are told *that* something changed, never handed state: they read a fresh snapshot
when they render, so a late notification can never show stale state. They are called outside
the queue's lock, from whatever thread made the change, and one that raises harms no other.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable

log = logging.getLogger(__name__)

Listener = Callable[[], None]


class Listeners:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_owner: dict[str, list[Listener]] = {}
        self._of_stats: list[Listener] = []

    def subscribe(self, owner: str, listener: Listener) -> Callable[[], None]:
        with self._lock:
            self._by_owner.setdefault(owner, []).append(listener)
        return lambda: self._remove(self._by_owner.get(owner, []), listener)

    def subscribe_stats(self, listener: Listener) -> Callable[[], None]:
        with self._lock:
            self._of_stats.append(listener)
        return lambda: self._remove(self._of_stats, listener)

    def forget(self, owner: str) -> None:
        with self._lock:
            self._by_owner.pop(owner, None)

    def _remove(self, listeners: list[Listener], listener: Listener) -> None:
        with self._lock:
            if listener in listeners:
                listeners.remove(listener)

    def notify(self, owners: Iterable[str], stats: bool) -> None:
        """Tell the owners' listeners (and, with `stats`, the figures' listeners)."""
        with self._lock:
            listeners = [cb for o in owners for cb in self._by_owner.get(o, ())]
            if stats:
                listeners += self._of_stats
        for listener in listeners:
            try:
                listener()
            except Exception:
                log.exception("a job queue listener failed")
