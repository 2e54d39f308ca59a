"""Contained workarounds for costs inside Panel 1.9.4 and Bokeh 3.9.2, found by profiling.

Each was measured with py-spy on the server while 100 clicks arrived at once on the async page
(before: 5.4 ms of server CPU per click event; with all of them: 1.3-1.5 ms) and while sessions
were built; each replaces one private method of the pinned versions and says why beside it.
tests/unit/test_speedups.py fails if Panel or Bokeh change version, so that every one is
checked again then; the end-to-end suite and the soak run with all of them on.
"""

from __future__ import annotations

import copy
import logging
import weakref
from contextlib import contextmanager

PANEL = "1.9.4"
BOKEH = "3.9.2"


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


def one_graph_walk_per_template() -> None:
    """A template adds each of its roots to the document one by one, and Bokeh recomputes the
    document's whole model graph after each: freeze it once around the template's render."""
    from panel.io.document import create_doc_if_none_exists
    from panel.io.state import state
    from panel.template.base import BaseTemplate

    original = BaseTemplate._init_doc

    def _init_doc(self, doc=None, comm=None, title=None, notebook=False, location=True):
        document = create_doc_if_none_exists(doc or state.curdoc)
        with document.models.freeze():
            return original(self, document, comm, title, notebook, location)

    BaseTemplate._init_doc = _init_doc


def cheap_config_set() -> None:
    """`config.set(design=...)`, once per template root, reads and restores all ~100 of
    Panel's config parameters: save and restore only those it sets."""
    from panel.config import _config

    @contextmanager
    def set(self, **kwargs):
        old = {k: getattr(self, k) for k in kwargs}
        for k, v in kwargs.items():
            setattr(self, k, v)
        try:
            yield
        finally:
            for k, v in old.items():
                setattr(self, k, v)

    _config.set = set


def no_document_validation() -> None:
    """Bokeh checks the integrity of every new document (all its models); the pages are the
    same every time, checked by the tests. Bokeh's own setting (BOKEH_VALIDATE_DOC)."""
    from bokeh.settings import settings

    settings.perform_document_validation.set_value(False)


def no_error_diagnostics() -> None:
    """Bokeh checks the signature of every callback a model registers (`inspect.signature`,
    one per Panel property link: a fifth of a page's build) and suggests close matches for
    mistyped attributes; the pages' callbacks are the same every time, checked by the tests.
    Bokeh's own setting (BOKEH_PERFORM_ERROR_DIAGNOSTICS)."""
    from bokeh.settings import settings

    settings.perform_error_diagnostics.set_value(False)


def unvalidated_page_builds() -> None:
    """A tenth of a page's build: Bokeh validates every property value set on a new model,
    and formats the message it would raise before it knows whether it will (Dict properties).
    The values a page script sets are the app's own, the same every time; Bokeh's documented
    `validate(False)` skips the check while Panel builds a session's document. What a browser
    sends is validated as ever: it arrives on the event loop, never during a build, which runs
    on the loop from start to end."""
    import panel.io.application as panel_app
    from bokeh.core.property.validation import validate

    initialize = panel_app.Application.initialize_document

    def initialize_document(self, doc):
        with validate(False):
            return initialize(self, doc)

    panel_app.Application.initialize_document = initialize_document


def page_resources_once() -> None:
    """A tenth of a page request: Panel works out the scripts and stylesheets of the page
    (Bokeh's, Panel's, every extension's and component's) for every request, and they are the
    same for every request of a page with the same models under the same path. Work them out
    once per page; each request gets its own copy of the lists."""
    import panel.io.server as panel_server
    from panel.config import config
    from panel.config import panel_extension as ext
    from panel.io.resources import Bundle
    from panel.io.state import state

    compute = panel_server.bundle_resources
    cache: dict = {}

    def bundle_resources(roots, resources, notebook=False, reloading=False,
                         enable_mathjax="auto"):  # fmt: skip
        models = {type(model) for root in roots for model in root.references()}
        key = (
            frozenset(models), type(resources), resources.mode, resources.root_url,
            getattr(resources, "absolute", None), state.rel_path, notebook, reloading,
            enable_mathjax, frozenset(ext._loaded_extensions), tuple(config.css_files),
            tuple(config.js_files), tuple(config.raw_css), tuple(config.global_css),
            tuple(config.js_modules.items()), config.design, config.theme,
        )  # fmt: skip
        if key not in cache:
            if len(cache) >= 64:  # bounded: a page is a handful of keys
                cache.clear()
            cache[key] = compute(roots, resources, notebook, reloading, enable_mathjax)
        cached = cache[key]
        return Bundle(
            notebook=cached.notebook, js_files=list(cached.js_files),
            js_raw=list(cached.js_raw), css_files=list(cached.css_files),
            css_raw=list(cached.css_raw), hashes=dict(cached.hashes),
            js_modules=copy.copy(cached.js_modules),
            js_module_exports=copy.copy(cached.js_module_exports),
        )  # fmt: skip

    panel_server.bundle_resources = bundle_resources


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


def stopped_periodic_callbacks_let_go() -> None:
    """Bokeh's periodic callback, once stopped (as every one is when its session ends), keeps
    its pending sleep timer until it fires, up to a period later (a second for the pages'
    tickers); the timer holds the callback and through it the whole ended session, which so
    outlives the young collection at its end and waits for the next full one. Keep the pending
    sleep and, on stop, cancel its timer and end it at once: the callback's chain finishes as
    it would have when the timer fired (its last error still logged), then lets go. Nothing
    else changes: a stopped callback never ran again anyway."""
    from bokeh.util.tornado import _AsyncPeriodic
    from tornado import gen

    def sleep(self):
        """_AsyncPeriodic.sleep of Bokeh 3.9.2, but for keeping the pending sleep."""
        future = gen.Future()
        timer = self._loop.call_later(self._period / 1000.0, _wake, future)
        self._pending_sleep = (timer, future)
        return future

    def stop(self):
        self._stopped = True
        self._func = _no_callback  # never called again; its session must not be held by it
        pending, self._pending_sleep = getattr(self, "_pending_sleep", None), None
        if pending is not None:  # on the loop, as the timer and the future must be
            self._loop.add_callback(_wake_now, self._loop, *pending)

    _AsyncPeriodic.sleep = sleep
    _AsyncPeriodic.stop = stop


def _no_callback() -> None:
    return None


def _wake(future) -> None:
    if not future.done():
        future.set_result(None)


def _wake_now(loop, timer, future) -> None:
    loop.remove_timeout(timer)
    _wake(future)


ALL = (
    quiet_panel_logger,
    theme_lookup_only_when_needed,
    no_busy_counter_without_indicators,
    button_triggers_value_only_when_watched,
    one_writer_per_document,
    one_graph_walk_per_template,
    cheap_config_set,
    no_document_validation,
    no_error_diagnostics,
    unvalidated_page_builds,
    page_resources_once,
    datamodel_tags_only_for_new_models,
    stopped_periodic_callbacks_let_go,
)


def install() -> None:
    for speedup in ALL:
        speedup()
