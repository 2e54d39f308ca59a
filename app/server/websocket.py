"""The websocket route: no Nagle delay on its frames, a connection Bokeh refuses (a forged or
expired token, a wrong subprotocol) closed with one log line, not a traceback, a close that
Bokeh's keep-alive saw first ended without one, and the session registry told when a page
connects (so that a tab closed before the next sweep still ends in seconds).

Bokeh's WSHandler.open raises ProtocolError for such a connection, which tornado logs as an
"Uncaught exception" with a traceback, once per attempt. This subclass of Panel's handler
closes it quietly and notes the refusal in the runtime's refusal log (one line per client a
minute). A contained workaround; tested in tests/e2e/test_security.py.
"""

from __future__ import annotations

import logging

from bokeh.protocol.exceptions import ProtocolError
from bokeh.server.urls import per_app_patterns
from panel.io.server import WSHandler

from app import runtime

log = logging.getLogger(__name__)


class RefusingWSHandler(WSHandler):
    def open(self, *args, **kwargs):
        # Bokeh writes each message as three or more frames: without TCP_NODELAY, Nagle holds
        # the second until the browser acknowledges the first (a delayed ACK, up to 40 ms).
        # Measured: one session's p95 click-to-"Running N" 43-46 ms with it, 9-12 ms without.
        self.set_nodelay(True)
        try:
            return super().open(*args, **kwargs)
        except ProtocolError as refused:
            client = self.request.remote_ip or "unknown"
            runtime.current().refusals.refused(f"client {client}", f"a websocket: {refused}")
            self.close()
            return None

    async def _async_open(self, token: str) -> None:
        await super()._async_open(token)
        session = getattr(getattr(self, "connection", None), "session", None)
        if session is not None:  # its page is connected: from now on its tab's close counts
            runtime.current().sessions.attached(session.id)

    def on_close(self) -> None:
        # Bokeh's keep-alive ping can find the socket closed before tornado calls this, and
        # then detaches the connection from its session (BokehTornado._keep_alive); Bokeh's
        # on_close would fail an assertion on it, a traceback in the log for a tab that
        # closed. The connection is gone either way: nothing is left to tell its session.
        connection = getattr(self, "connection", None)
        if connection is not None and connection._session is None:
            log.debug("websocket closed after its keep-alive found it gone")
            return
        super().on_close()


def install() -> None:
    """Serve websockets with RefusingWSHandler (before the server builds its routes)."""
    for i, (pattern, handler, *rest) in enumerate(per_app_patterns):
        if handler is WSHandler:
            per_app_patterns[i] = (pattern, RefusingWSHandler, *rest)
