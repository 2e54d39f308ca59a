"""Speedups of a click's round trip and of updates to open pages (see the package's docstring):
each event Panel handles, each message it writes, each property a component sets."""

from __future__ import annotations

import logging
import weakref


def quiet_panel_logger() -> None:
    """Panel's logger sits at DEBUG and filters in its handler, so every `self._log(...)` on
    an event builds a LogRecord: raise the logger to its handler's level."""
    from panel.config import config

    level = getattr(logging, str(config.log_level or "WARNING").upper(), logging.WARNING)
    logging.getLogger("panel").setLevel(level)


def theme_lookup_only_when_needed() -> None:
    """21.7% of a click's CPU: on every property update Panel re-resolves the design's theme
    CSS files on disk (Design.params), and keeps the result only if `stylesheets` changed.
    Resolve them only then; and memoize the per-class modifiers, which depend on the classes."""
    import panel.reactive as reactive
    from panel.io.state import state
    from panel.theme.base import Design, Theme

    def _update_properties(self, *events, doc):
        changes = {event.name: event.new for event in events}
        if "stylesheets" in changes and self._design:
            params, _ = self._design.params(self, doc)
            if "stylesheets" in params:
                changes["stylesheets"] = params["stylesheets"] + changes["stylesheets"]
        return self._process_param_change(changes)

    reactive.Reactive._update_properties = _update_properties
    original = Design._get_modifiers.__func__
    cache: dict = {}

    def _get_modifiers(cls, viewable, theme=None, isolated=True):
        theme_key = type(theme) if isinstance(theme, Theme) else theme
        in_server = bool(state.curdoc and state.curdoc.session_context)
        key = (cls, type(viewable), theme_key, isolated, in_server)
        if key not in cache:
            cache[key] = original(cls, viewable, theme, isolated)
        modifiers, child_modifiers = cache[key]
        modifiers = dict(modifiers)  # the caller may change what it gets: give it a copy
        if "stylesheets" in modifiers:
            modifiers["stylesheets"] = list(modifiers["stylesheets"])
        return modifiers, child_modifiers

    Design._get_modifiers = classmethod(_get_modifiers)


def no_busy_counter_without_indicators() -> None:
    """16.1% of a click's CPU: every Bokeh event adds itself to Panel's process-wide busy list
    (a param List rebuilt, with watchers) and removes itself again, for busy indicators; the
    app shows none (the template's busy_indicator is None), so there is nobody to tell."""
    from panel.io.state import _state

    add, remove = _state._add_busy_event, _state._remove_busy_event

    def _add_busy_event(self, event_id):
        if self._indicators:
            add(self, event_id)

    def _remove_busy_event(self, event_id):
        if self._indicators or self._busy_counter:
            remove(self, event_id)

    _state._add_busy_event = _add_busy_event
    _state._remove_busy_event = _remove_busy_event


def button_triggers_value_only_when_watched() -> None:
    """A click re-triggers the Button's `value`, which reads every parameter of the widget; do
    it only when something other than Panel's own syncing watches `value`."""
    from panel.widgets.button import Button

    def _process_event(self, event):
        internal = set(self._internal_callbacks)
        watchers = self.param.watchers.get("value", {})
        if any(w not in internal for ws in watchers.values() for w in ws):
            self.param.trigger("value")
        self.clicks += 1

    Button._process_event = _process_event


def one_writer_per_document() -> None:
    """Most of a click's latency: when Bokeh is writing to the websocket (its reply to the
    click), Panel's `_dispatch_msgs` sleeps 10 ms and tries again. Instead, one writer task per
    document takes the socket's write lock (waiting for Bokeh's message to finish) and writes
    every queued message while holding it: frames never interleave, and nothing polls. One
    click to "Running N": 15-17 ms median before, 4-5 ms after (protocol client)."""
    import panel.io.document as pdoc

    pdoc._dispatch_msgs = _dispatch_msgs


_WRITING: weakref.WeakSet = weakref.WeakSet()  # documents whose writer task is at work


async def _dispatch_msgs(doc) -> None:
    import panel.io.document as pdoc

    if doc not in pdoc._WRITE_BLOCK or doc in _WRITING:
        return  # nothing queued, or this document's writer will send it
    _WRITING.add(doc)
    try:
        while pdoc._WRITE_MSGS.get(doc):
            for conn, msgs in pdoc._WRITE_MSGS.pop(doc).items():
                lock = getattr(conn._socket, "write_lock", None)
                if lock is None:
                    await _write(conn, msgs)
                    continue
                async with lock:
                    await _write(conn, msgs)
        pdoc._WRITE_BLOCK.pop(doc, None)
    finally:
        _WRITING.discard(doc)


async def _write(conn, msgs) -> None:
    import panel.io.document as pdoc
    from tornado.websocket import WebSocketClosedError, WebSocketHandler

    futures = []
    for msg in msgs:
        if isinstance(conn._socket, WebSocketHandler):
            futures += pdoc.dispatch_tornado(conn, msg=msg)
        elif (socket_type := type(conn._socket)) in pdoc.extra_socket_handlers:
            futures += pdoc.extra_socket_handlers[socket_type](conn, msg=msg)
        else:
            futures += pdoc.dispatch_django(conn, msg=msg)
    for future in futures:
        try:
            await future
        except WebSocketClosedError:
            pdoc.logger.debug("a message to a closed connection was dropped")
        except Exception as error:
            pdoc.logger.warning("Failed sending message: %s", error)


def datamodel_tags_only_for_new_models() -> None:
    """Most of a sidebar line's update (80% of the template's property change, about 5 ms of a
    page of 19 models): after every property set on a custom component's data model, Panel
    walks every model the component holds (for the template: the whole page) to tag each data
    model in it with the page's root, for the cleanup when the session ends. A value without
    models (a string, a number, rows as JSON) brings no new data model: walk only when a value
    holds models. The walk where Panel first builds a component's model stays as it is."""
    from bokeh.model import DataModel
    from panel.reactive import ReactiveCustomBase

    def _set_on_model(self, msg, root, model):
        """ReactiveCustomBase._set_on_model of Panel 1.9.4 but for the condition on the walk."""
        if not msg:
            return []
        ref = root.ref["id"]
        prev_changing = self._changing.get(ref, [])
        transformed = _changed_values(model, msg)
        changing = list(transformed)
        self._changing[ref] = changing
        try:
            model.update(**transformed)
        finally:
            if prev_changing:
                self._changing[ref] = prev_changing
            else:
                del self._changing[ref]
        if isinstance(model, DataModel) and any(map(_holds_models, transformed.values())):
            self._patch_datamodel_ref(model, ref)
        return changing

    ReactiveCustomBase._set_on_model = _set_on_model


def _changed_values(model, msg: dict) -> dict:
    """The values of `msg` that differ from the model's, converted as Panel converts them."""
    transformed = {}
    for attr, value in msg.items():
        prop = model.lookup(attr).property
        old = getattr(model, attr)
        try:
            matches = bool(prop.matches(old, value))
        except Exception:
            for tp, converter in prop.alternatives:
                if tp.is_valid(value):
                    value = converter(value)
                    break
            try:
                matches = bool(prop.matches(old, value))
            except Exception:
                matches = False
        if not matches:
            transformed[attr] = value
    return transformed


def _holds_models(value) -> bool:
    """Whether a property value is or contains a Bokeh model (anything unknown counts)."""
    if isinstance(value, (str, bytes, int, float, bool)) or value is None:
        return False
    if isinstance(value, dict):
        return any(map(_holds_models, value.values()))
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(map(_holds_models, value))
    return True  # a model, or something else: walk, as Panel does
