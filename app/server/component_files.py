"""Panel's route for components' files (`/components/<module>/<class>/<attribute>/<file>`, where
the browser gets the app's component modules, app/components/browser_component.py), for the
modules that serve them only.

Panel's handler imports the module the URL names before it checks anything else, so any
visitor could make the server import any installed module: one that does something when
imported (`/components/this/...` printed the Zen of Python into the server's log), or a heavy
one (seconds of the event loop and memory kept for good). Here a module is looked up only when
the server has imported it already (a component it rendered) or it is one of the app's
components (under `--num-procs`, the process that gets a file's request may not have built a
page yet); any other request is answered 404, noted once a minute per client, and imports
nothing. A contained workaround for Panel 1.9.4's handler; tested.
"""

from __future__ import annotations

import sys

from panel.io.server import ComponentResourceHandler
from tornado.web import HTTPError

from app import runtime

APP_COMPONENTS = "app.components."

_panel_parse_url_path = ComponentResourceHandler.parse_url_path


def may_import(module: str) -> bool:
    return module in sys.modules or module.startswith(APP_COMPONENTS)


def parse_url_path(self: ComponentResourceHandler, path: str) -> str:
    module = path.split("/", 1)[0]
    if not may_import(module):
        client = self.request.remote_ip or "unknown"
        runtime.current().refusals.refused(
            f"client {client}", "a component file of a module the server has not loaded"
        )
        raise HTTPError(404)
    return _panel_parse_url_path(self, path)


def install() -> None:
    ComponentResourceHandler.parse_url_path = parse_url_path
