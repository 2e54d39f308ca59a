"""The notice every page shows when its connection to the server is lost.

A browser whose websocket closes can no longer be told anything by the server, so the browser
itself says it (connection.js): at once, with the page's clocks stopped and unfinished work
marked lost by the tables, and then it offers a reload once the server answers again.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import panel as pn

HERE = Path(__file__).parent


class ConnectionNotice(pn.custom.JSComponent):
    """Hidden while the page is connected; a banner with a Reload button once it is not."""

    _esm = HERE / "connection.js"
    # Inlined: Panel 1.9.4 serves a relative stylesheet of a JSComponent at the wrong URL.
    _stylesheets: ClassVar[list[str]] = [(HERE / "connection.css").read_text()]
