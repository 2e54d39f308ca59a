"""Messages from a browser that the server cannot apply: refused in one log line, answered with
no internals.

Bokeh's protocol handler logs every message it fails to apply with a full traceback, and sends
the client an ERROR reply that carries that traceback (file paths included): a client sending
wrong-type values in a loop fills the disk and learns the server's layout. This replaces that
one method (a contained workaround, tested in tests/e2e/test_security.py): the refusal is one
line, at most one a minute per session (app/core/refusals.py), and the reply says only that the
message could not be applied.
"""

from __future__ import annotations

from bokeh.protocol.exceptions import ProtocolError
from bokeh.server.protocol_handler import ProtocolHandler

from app import runtime

REPLY = "the server could not apply this message"


async def handle(self: ProtocolHandler, message, connection):
    handler = self._handlers.get(message.msgtype)
    if handler is None:
        raise ProtocolError(f"{message.msgtype} not expected on server")
    try:
        return await handler(message, connection)
    except Exception as error:
        what = f"a {message.msgtype} message ({type(error).__name__}: {str(error)[:200]})"
    # Outside the except block: Bokeh's ERROR message copies the exception being handled,
    # traceback and all, into the reply.
    runtime.current().refused_from_session(getattr(connection.session, "id", None), what)
    return connection.error(message, REPLY)


def install() -> None:
    ProtocolHandler.handle = handle
