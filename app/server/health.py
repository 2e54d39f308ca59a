"""GET /health: is this process ready for new visitors, is it healthy, and its figures.

HTTP 200 while the process is ready for new visitors and 503 while it is not (starting,
shutting down, full), so a load balancer routes by it; "status" says "ok" or "degraded" with the
reasons, which is for people and alerts: a degraded process still serves. Whether to restart a
process is `/liveness`'s question (Docker's HEALTHCHECK asks that), never this one's.

Anyone gets the answer a balancer needs ({"status", "ready", "replica"}); the figures (pid,
versions, memory, counts, the reasons) need what the pages need: a logged-in user when the
server has a login, or `Authorization: Bearer <HEALTH_TOKEN>` when that is set.
`?window=S` reports the loop lag over the last S seconds (1 to 60) instead of 60.
"""

from __future__ import annotations

import hmac
import json

from bokeh.server.views.auth_request_handler import AuthRequestHandler

from app import runtime


class HealthHandler(AuthRequestHandler):
    def get(self) -> None:
        window = self.get_query_argument("window", default=None)
        try:
            lag_window = None if window is None else min(60.0, max(1.0, float(window)))
        except ValueError:
            self.set_status(400)
            self.finish({"error": "window must be a number of seconds"})
            return
        process = runtime.current()
        snap = process.snapshot(lag_window, fresh=True)
        body = snap.as_dict() if self._may_see_details(process) else snap.public()
        self.set_status(200 if snap.ready else 503)
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(body))

    def _may_see_details(self, process: runtime.Runtime) -> bool:
        token = process.settings.health_token
        given = self.request.headers.get("Authorization", "")
        if token and hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return True
        # A logged-in user, or anyone when the pages need no login ("default_user"); with a
        # token set and no login on the pages, only the token.
        user = self.current_user
        no_login = user == "default_user"
        return bool(user) and not (no_login and token)
