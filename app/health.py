"""GET /health: is this process ready for new visitors, is it healthy, and its figures.

Loaded by `panel serve --plugins app.health` (the serve command adds it). It answers from the
event loop with figures already in memory, so it stays fast while jobs run. HTTP 200 while the
process is ready for new visitors and 503 while it is not (starting, shutting down, full), so a
load balancer routes by it; "status" says "ok" or "degraded" with the reasons, which is for
people and alerts: a degraded process still serves. Whether to restart a process is
`/liveness`'s question (Docker's HEALTHCHECK asks that), never this one's.
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
            self.finish({"error": "window must be a number of seconds"})
            return
        snap = runtime.current().snapshot(lag_window)
        self.set_status(200 if snap.ready else 503)
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(snap.as_dict()))


ROUTES = [(r"/health", HealthHandler)]
