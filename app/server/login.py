"""Failed logins throttled per client address.

Panel's basic-auth login form answers as fast as it is asked: about 900 password guesses a
second here. Each failed attempt spends one of a client's tokens (FAILED_LOGIN_BURST, refilled
at FAILED_LOGINS_PER_MINUTE); with none left the form answers 429 with Retry-After until one is
back, and a successful login forgets the client's failures. The check wraps the one method of
Panel's login handler that takes a password (a contained workaround; tested).
"""

from __future__ import annotations

import math

from panel.auth import BasicLoginHandler

from app import runtime

_panel_post = BasicLoginHandler.post


def post(self: BasicLoginHandler):
    process = runtime.current()
    client = self.request.remote_ip or "unknown"
    wait = process.failed_logins.peek(client)
    if wait > 0:
        process.refusals.refused(f"client {client}", "a login attempt after too many failures")
        self._log = lambda: None  # logged by the runtime once a minute, not once per request
        self.set_status(429)
        self.set_header("Retry-After", str(max(1, math.ceil(wait))))
        self.finish("Too many failed logins from your address: try again later.")
        return None
    username = self.get_argument("username", "")
    password = self.get_argument("password", "")
    if self._validate(username, password):
        process.failed_logins.clear(client)
    else:
        process.failed_logins.take(client)
        process.refusals.refused(f"client {client}", "a login with a wrong password")
    return _panel_post(self)


def install() -> None:
    BasicLoginHandler.post = post
