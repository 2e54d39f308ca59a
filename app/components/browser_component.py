"""The base of the app's browser-side components (TextLine, LiveTable, PageTemplate): a Panel
JSComponent whose code, a plain JavaScript module beside it, the browser imports from a URL.

A JSComponent's code normally travels inside every page's document, and on every load the
browser turns it into a module again: a Sucrase transform per instance, a Blob, an object URL,
and es-module-shims' rewrite of it (a Chromium CPU profile of a page load: 40 to 60 ms of the
browser's main thread on the async page). Panel's `_bundle`, set to the component's own file,
makes the document carry the file's URL instead (Panel serves it; the browser caches it) and
skips the transform, the Blob and the object URL (es-module-shims still reads each module once
per load): the modules import nothing and need no build step. First render, 24 page
loads alternating with the same app without it: 12 to 17 ms less on the async and queue pages
(three such components each), about 3 ms on the streaming page (one).

Under `--dev`, Panel ignores `_bundle` and sends the source inline as before, and (with
watchfiles installed) sends an edited module's new source to the open pages.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import panel as pn


class BrowserComponent(pn.custom.JSComponent):
    """Set `_esm` to the Path of the component's module; it is served as the bundle."""

    # Panel would also import a .css file named like the module; the components inline their
    # stylesheets instead (`_stylesheets`), which `--dev` keeps too.
    _bundle_css: ClassVar[list] = []

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if isinstance(cls.__dict__.get("_esm"), Path):
            cls._bundle = cls._esm
