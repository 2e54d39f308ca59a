"""The websocket handler's close (app/server/websocket.py), without a server: a connection that
Bokeh's keep-alive already detached closes without a traceback; any other close is Bokeh's."""

from __future__ import annotations

from types import SimpleNamespace

from app.server.websocket import RefusingWSHandler

lost: list = []  # what the server was told of lost clients


def handler_with(connection) -> RefusingWSHandler:
    handler = object.__new__(RefusingWSHandler)  # no tornado request: only on_close is run
    handler.connection = connection
    handler.close_code, handler.close_reason = 1001, None
    handler.application = SimpleNamespace(client_lost=lost.append)
    return handler


def test_a_close_after_the_keep_alive_detached_the_connection_is_quiet() -> None:
    lost.clear()
    handler_with(SimpleNamespace(_session=None)).on_close()  # Bokeh's own would assert
    assert lost == []


def test_any_other_close_tells_the_session_and_the_server() -> None:
    lost.clear()
    told = []
    session = SimpleNamespace(notify_connection_lost=lambda: told.append("lost"))
    connection = SimpleNamespace(_session=session, session=session)
    handler_with(connection).on_close()
    assert told == ["lost"] and lost == [connection]
