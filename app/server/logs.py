"""Bokeh's own log lines about refused connections and messages: at most one a minute per kind,
with no traceback and no session id.

A client can make Bokeh and Panel log an error (often with a traceback) at will: a foreign
origin, a forged token, a malformed frame, a value a parameter refuses, each logged per
attempt. Those lines are the server's record of an attack, so they are kept, but one per kind
of line a minute, with a count of the others, no traceback (it says nothing about the client),
and a session id (a credential) withheld.
"""

from __future__ import annotations

import logging
import re

from app.core.refusals import OncePerWindow

# Bokeh's websocket and protocol handlers, and Panel's "Callback failed" for a value a
# parameter refuses (logged with a traceback before Panel's exception handler sees it).
LOGGERS = ("bokeh.server.views.ws", "bokeh.server.protocol_handler", "panel.reactive")
SESSION_ID = re.compile(r"^[A-Za-z0-9_\-]{20,}(\.[A-Za-z0-9_\-]+)?$")
WINDOW = 60.0


class OncePerMinute(logging.Filter):
    """Lets through the first warning-or-worse record of each kind a minute."""

    def __init__(self) -> None:
        super().__init__()
        self._once = OncePerWindow(WINDOW)  # per message template

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        held = self._once.let_through(f"{record.name}:{str(record.msg)[:40]}")  # the kind
        if held is None:
            return False
        if isinstance(record.args, tuple):
            record.args = tuple(
                "<session id withheld>" if isinstance(a, str) and SESSION_ID.match(a) else a
                for a in record.args
            )
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        if held:
            record.msg = f"{record.msg} ({held} more like it in the minute before)"
        return True


def install() -> None:
    for name in LOGGERS:
        logging.getLogger(name).addFilter(OncePerMinute())
