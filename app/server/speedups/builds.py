"""Speedups of a page's build and of its first serialization (see the package's docstring):
what every session's document costs to make, to walk and to send."""

from __future__ import annotations

import copy
from contextlib import contextmanager


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
        models = {type(model) for model in _models_under(roots)}
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


def stylesheets_found_in_the_documents_models() -> None:
    """Half of a page request once its session is built: Panel points each stylesheet model at
    the server's static files (`patch_model_css`) after walking every model under each root to
    find them, a walk of the whole page, which the document has just done and keeps current.
    Find them among the document's models instead (the same set, whenever the document is
    not in the middle of a change)."""
    import panel.io.server as panel_server
    from bokeh.models import ImportedStyleSheet
    from panel.io.resources import patch_stylesheet

    walk = panel_server.patch_model_css

    def patch_model_css(root, dist_url: str) -> None:
        doc = root.document
        if doc is None or doc.models._freeze_count or root not in doc.roots:
            walk(root, dist_url=dist_url)
            return
        # The stylesheets under every root: patching is idempotent, so the other roots'
        # calls find theirs done (no change, no event).
        for model in list(doc.models):
            if isinstance(model, ImportedStyleSheet):
                patch_stylesheet(model, dist_url)

    panel_server.patch_model_css = patch_model_css


def data_model_classes_known_once() -> None:
    """A twentieth of a page's first serialization: Bokeh sends the browser the definition of
    every DataModel class the process knows, and finds them by asking each of the 500-odd
    registered model classes whether it is one (importing DataModel again for each). A class
    stays what it is: the answer is kept per class (bounded)."""
    import bokeh.document.document as bokeh_document
    from bokeh.core.has_props import is_DataModel

    known: dict = {}

    def is_data_model(cls) -> bool:
        answer = known.get(cls)
        if answer is None:
            if len(known) > _MOST_DEFAULTS:
                known.clear()
            answer = known[cls] = bool(is_DataModel(cls))
        return answer

    bokeh_document.is_DataModel = is_data_model


def _models_under(roots) -> object:
    """Every model under `roots`: their document's, when they are all of one document's roots
    and it is not in the middle of a change (it keeps them current); else a walk."""
    docs = {root.document for root in roots}
    if len(docs) == 1:
        doc = docs.pop()
        if doc is not None and not doc.models._freeze_count and set(roots) <= set(doc.roots):
            return list(doc.models)
    return [model for root in roots for model in root.references()]


def cached_property_defaults() -> None:
    """About a fifth of a page's build and of its first serialization: every read of a Bokeh
    property that was never set (most of them, when a model is walked or serialized) works its
    default out again: the class's overridden defaults gathered along its MRO, the default
    copied and validated, and whether it is "unstable" (a function or a model instance, to be
    made once per object) asked of every type parameter. For a class, a property and no theme
    the answer is always the same: an immutable default (a number, a string, None) is kept
    per (class, property) and handed out as is (copying an immutable value returns it), and
    whether a default is unstable is kept too. Defaults that are containers or models (made
    per object, as before), themed values and every set value are untouched."""
    from bokeh.core.property.descriptors import PropertyDescriptor
    from bokeh.core.property.wrappers import PropertyValueContainer

    stable: dict = {}  # (class, descriptor) -> its immutable default
    unstable: dict = {}  # (class, descriptor) -> whether its default is made per object

    def _get_default(self, obj):
        """PropertyDescriptor._get_default of Bokeh 3.9.2, with the two answers kept."""
        name = self.name
        if name in obj._property_values:
            raise RuntimeError("Bokeh internal error, does not handle the case of self.name "
                               "already in _property_values")  # fmt: skip
        themed_values = obj.themed_values()
        themed = themed_values is not None and name in themed_values
        unstable_dict = obj._unstable_themed_values if themed else obj._unstable_default_values
        if name in unstable_dict:
            return unstable_dict[name]
        key = (type(obj), self)
        if not themed and key in stable:
            return stable[key]
        default = self.instance_default(obj)
        made_per_object = unstable.get(key)
        if made_per_object is None:
            if len(unstable) > _MOST_DEFAULTS:  # bounded: classes made at run time come and go
                unstable.clear()
                stable.clear()
            made_per_object = unstable[key] = self.has_unstable_default(obj)
        if made_per_object:
            if isinstance(default, PropertyValueContainer):
                default._register_owner(obj, self)
            unstable_dict[name] = default
        elif not themed and type(default) in _IMMUTABLE:
            stable[key] = default
        return default

    PropertyDescriptor._get_default = _get_default


_MOST_DEFAULTS = 50_000
_IMMUTABLE = frozenset({str, int, float, bool, type(None), bytes})
