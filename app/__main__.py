"""`python -m app [panel serve flags]`: the one serve command used by make, Docker and the tests.

It builds the `panel serve` command line from the settings (PORT, ADDRESS, ALLOW_WEBSOCKET_ORIGIN)
and the page registry, appends any extra flags given, and runs Panel's own CLI in this process,
so signals reach the server directly.
"""

from __future__ import annotations

import os
import secrets
import sys

from app.registry import APP_DIR, HOME, PAGES
from app.settings import Settings, SettingsError

# Bokeh checks for sessions to destroy this often (ms); the runtime's sweep marks the sessions
# whose tab is gone, so that their jobs, tasks and streams end within about two seconds.
CHECK_UNUSED_SESSIONS_MS = 500


def serve_command(settings: Settings, extra: list[str]) -> list[str]:
    """The `panel serve` argument list for these settings and extra flags."""
    args = ["panel", "serve", *(str(page.script) for page in PAGES)]
    args += ["--index", HOME.app_name]
    args += ["--port", str(settings.port), "--address", settings.address]
    for origin in settings.websocket_origins():
        args += ["--allow-websocket-origin", origin]
    args += ["--setup", str(APP_DIR / "server_setup.py")]
    args += ["--check-unused-sessions", str(CHECK_UNUSED_SESSIONS_MS)]
    args += ["--unused-session-lifetime", str(round(settings.session_connect_seconds * 1000))]
    args += ["--liveness", "--plugins", "app.server.plugin"]
    # Session ids signed with BOKEH_SECRET_KEY: an id alone no longer opens a session.
    args += ["--session-ids", "signed"]
    return args + extra


def main(argv: list[str] | None = None) -> None:
    extra = sys.argv[1:] if argv is None else argv
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        sys.exit(f"configuration error: {error}")
    # Replicas behind one balancer share a secret (BOKEH_SECRET_KEY); alone, a server makes one
    # per start, which its --num-procs children inherit.
    os.environ.setdefault("BOKEH_SECRET_KEY", secrets.token_urlsafe(32))
    sys.argv = serve_command(settings, extra)
    print("Running:", " ".join(sys.argv), flush=True)
    from panel.command import main as panel_main

    panel_main()


if __name__ == "__main__":
    main()
