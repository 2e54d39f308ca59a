"""GET /health: the server's snapshot as JSON, with "ok" or "degraded" and the reasons.

Loaded by `panel serve --plugins app.health` (the serve command adds it). It answers from the
event loop with figures already kept in memory, so it stays fast while jobs run; 200 when ok,
503 when degraded, so that load balancers and Docker's HEALTHCHECK can act on it.
`?window=S` reports the loop lag over the last S seconds (1 to 60) instead of 60.
"""

from __future__ import annotations

import json

from tornado.web import RequestHandler

from app import runtime


class HealthHandler(RequestHandler):
    def get(self) -> None:
        window = self.get_query_argument("window", default=None)
        try:
            lag_window = None if window is None else min(60.0, max(1.0, float(window)))
        except ValueError:
            self.set_status(400)
            self.finish({"error": f"window must be a number of seconds, got {window!r}"})
            return
        snap = runtime.snapshot(lag_window)
        self.set_status(200 if snap.status == "ok" else 503)
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(snap.as_dict()))


ROUTES = [(r"/health", HealthHandler)]
