"""`panel serve --plugins app.server.plugin` (the serve command passes it): GET /health, and the
server's hardening, installed before the server builds its routes.

- pages.py: a page request builds a session only if admission allows it (else a 503 page);
- protocol.py: a browser message the server cannot apply is one log line, and no traceback
  goes back to the browser;
- login.py: failed logins are throttled per client;
- component_files.py: a component file's URL imports no module the server has not loaded;
- websocket.py and logs.py: a refused connection is one line, no traceback, no session id;
- speedups/: contained workarounds for costs profiled inside Panel and Bokeh;
- sliced_builds.py: session builds that hand the event loop back every few milliseconds;
- session_heap.py, session_shell.py: garbage collection that does not walk every live session.
"""

from __future__ import annotations

from app import runtime
from app.server import (  # fmt: skip
    component_files,
    login,
    logs,
    pages,
    protocol,
    session_heap,
    sliced_builds,
    speedups,
    websocket,
)
from app.server.health import HealthHandler

pages.install()
websocket.install()
protocol.install()
login.install()
component_files.install()
logs.install()
speedups.install()
session_heap.install(runtime.current_heaps)
sliced_builds.install()  # last: it runs the builds the others have wrapped

ROUTES = [(r"/health", HealthHandler)]
