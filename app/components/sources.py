"""Data sources the server owns: the browser shows them and may not change them.

Bokeh applies data a client sends to a server's ColumnDataSource: a `ColumnsStreamed` patch
with a million points, repeated, grows the server's memory without limit, and a `data` change
replaces what every update is built on. No page here lets a browser edit a plot's data, so a
`ServerOwnedSource` refuses both (one log line per session a minute) and keeps what it had.
It is a plain ColumnDataSource to the browser: BokehJS needs nothing new.
"""

from __future__ import annotations

import contextlib

from bokeh.models import ColumnDataSource

from app import runtime


class _ServerOwnedSource(ColumnDataSource):
    # Sent to the browser as a ColumnDataSource; a class whose name starts with "_" stays out of
    # Bokeh's model registry, so it may share that name.
    __view_model__ = "ColumnDataSource"
    __view_module__ = "bokeh.models.sources"
    __qualified_model__ = "ColumnDataSource"

    def _stream(self, new_data, rollover=None, setter=None) -> None:
        if setter is not None:  # from a browser (a server-side stream has no setter)
            self._refuse("a stream of points into a server-owned source")
            return
        super()._stream(new_data, rollover, setter)

    def _patch(self, patches, setter=None) -> None:
        if setter is not None:
            self._refuse("a patch of a server-owned source")
            return
        super()._patch(patches, setter)

    def set_from_json(self, name: str, value, *, setter=None) -> None:
        if setter is not None and name == "data":
            self._refuse("new data for a server-owned source")
            return
        super().set_from_json(name, value, setter=setter)

    def _refuse(self, what: str) -> None:
        document = self.document
        context = document.session_context if document is not None else None
        # Outside a served app (unit tests) there is no runtime to log to: refused all the same.
        with contextlib.suppress(RuntimeError):
            runtime.current().refused_from_session(getattr(context, "id", None), what)


ServerOwnedSource = _ServerOwnedSource
