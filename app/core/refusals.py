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


class RefusalLog:
    """One log line per visitor per `window` seconds, with a count of those held back."""

    def __init__(
        self, window: float = 60.0, max_visitors: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:  # fmt: skip
        self.window = window
        self.max_visitors = max_visitors
        self.clock = clock
        self._lock = threading.Lock()
        self._seen: OrderedDict[str, list] = OrderedDict()  # who -> [window start, held back]
        self.total = 0

    def refused(self, who: str, what: str) -> bool:
        """Note a refusal; True if it was logged (False: counted for later)."""
        now = self.clock()
        with self._lock:
            self.total += 1
            entry = self._seen.pop(who, None)
            held = 0
            if entry is not None and now - entry[0] < self.window:
                entry[1] += 1
                self._seen[who] = entry
                return False
            if entry is not None:
                held = entry[1]
            self._seen[who] = [now, 0]
            while len(self._seen) > self.max_visitors:
                self._seen.popitem(last=False)
        more = f" ({held} more refused in the minute before)" if held else ""
        log.warning("refused from %s: %s%s", who, what, more)
        return True
