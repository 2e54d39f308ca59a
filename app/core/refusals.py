"""What the server refused from whom, logged as one line, at most once a minute per visitor.

Anything a client sends can be forged and repeated: a traceback per refused message would let
one visitor fill the disk. Each refusal is one line; after the first for a visitor, the others
of that minute are counted and reported as one line when the next one comes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

log = logging.getLogger("app.refused")


class OncePerWindow:
    """The first occurrence of each key per `window` seconds goes through; the others are
    counted and reported with the next one that does. The table of keys is bounded (the least
    recently seen are forgotten), since keys come from what visitors send."""

    def __init__(
        self, window: float = 60.0, max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:  # fmt: skip
        self.window = window
        self.max_keys = max_keys
        self.clock = clock
        self._lock = threading.Lock()
        self._seen: OrderedDict[str, list] = OrderedDict()  # key -> [window start, held back]

    def let_through(self, key: str) -> int | None:
        """None if this occurrence is held back (counted); else how many were held back in the
        window before it."""
        now = self.clock()
        with self._lock:
            entry = self._seen.pop(key, None)
            if entry is not None and now - entry[0] < self.window:
                entry[1] += 1
                self._seen[key] = entry
                return None
            self._seen[key] = [now, 0]
            while len(self._seen) > self.max_keys:
                self._seen.popitem(last=False)
            return entry[1] if entry is not None else 0


class RefusalLog:
    """One log line per visitor per `window` seconds, with a count of those held back."""

    def __init__(self, window: float = 60.0, max_visitors: int = 10_000) -> None:
        self._once = OncePerWindow(window, max_visitors)

    def refused(self, who: str, what: str) -> bool:
        """Note a refusal; True if it was logged (False: counted for later)."""
        held = self._once.let_through(who)
        if held is None:
            return False
        more = f" ({held} more refused in the minute before)" if held else ""
        log.warning("refused from %s: %s%s", who, what, more)
        return True
