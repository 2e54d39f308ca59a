"""Messages from a browser: those the server cannot apply refused in one log line, answered
with no internals; those it applied not answered at all.

Bokeh's protocol handler logs every message it fails to apply with a full traceback, and sends
the client an ERROR reply that carries that traceback (file paths included): a client sending
wrong-type values in a loop fills the disk and learns the server's layout. This replaces that
one method (a contained workaround, tested in tests/e2e/test_security.py): the refusal is one
line, at most one a minute per session (app/core/refusals.py), and the reply says only that the
message could not be applied.

A browser sends every click and widget change as a PATCH-DOC message and waits for no reply;
Bokeh answers each with an OK that BokehJS drops unread (`_handle_ok` logs it at trace level,
BokehJS 3.9.2). That OK is a message of three websocket frames per click: half of what
receiving a click cost the server in a 100-click burst (py-spy). It is not sent.
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
        reply = await handler(message, connection)
    except Exception as error:
        what = f"a {message.msgtype} message ({type(error).__name__}: {str(error)[:200]})"
    else:
        if message.msgtype == "PATCH-DOC" and getattr(reply, "msgtype", None) == "OK":
            return None  # nobody reads it
        return reply
    # Outside the except block: Bokeh's ERROR message copies the exception being handled,
    # traceback and all, into the reply.
    runtime.current().refused_from_session(getattr(connection.session, "id", None), what)
    return connection.error(message, REPLY)


def install() -> None:
    ProtocolHandler.handle = handle
