"""The page route, with admission: a page request gets a session, or a cheap "busy" page.

Panel serves every app page with its DocHandler, which builds a whole session on the event loop
for each GET. This subclass first asks the runtime's admission control (app/core/admission.py)
and answers a refused request with HTTP 503, a Retry-After header and a short page that retries
by itself, without building anything. It also refuses a page request that names a session id
(`?bokeh-session-id=`): the app never makes one, and it would attach a page to someone else's
session.
"""

from __future__ import annotations

import html

from bokeh.server.urls import per_app_patterns
from panel.io.server import DocHandler

from app import runtime

BUSY_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="{retry}">
<title>Server busy</title></head>
<body style="font-family: sans-serif; margin: 3em;"><h1>Server busy</h1>
<p>The server is busy: {reason}. This page tries again in {retry} s.</p></body></html>
"""


class AdmittingDocHandler(DocHandler):
    """Panel's page handler, behind the runtime's admission control."""

    _refused = False

    def _log(self) -> None:
        # A refusal is logged once a minute per client by the runtime, not once per request.
        if not self._refused:
            super()._log()

    async def get(self, *args, **kwargs):
        process = runtime.current()
        client = self.request.remote_ip or "unknown"
        if "bokeh-session-id" in self.request.arguments:
            process.refusals.refused(f"client {client}", "a page request naming a session id")
            self._refused = True
            self.set_status(403)
            self.finish("A page request may not name a session.")
            return
        busy = process.admission.admit(client)
        if busy is not None:
            process.refusals.refused(f"client {client}", f"a new session: {busy.reason}")
            self._refused = True
            self.set_status(503)
            self.set_header("Retry-After", str(busy.retry_after))
            self.set_header("Cache-Control", "no-store")
            self.set_header("Content-Type", "text/html; charset=utf-8")
            self.finish(BUSY_PAGE.format(reason=html.escape(busy.reason), retry=busy.retry_after))
            return
        await super().get(*args, **kwargs)


def install() -> None:
    """Serve pages with AdmittingDocHandler (before the server builds its routes)."""
    for i, (pattern, handler, *rest) in enumerate(per_app_patterns):
        if handler is DocHandler:
            per_app_patterns[i] = (pattern, AdmittingDocHandler, *rest)
