"""What the runtime sets up in its server process besides its own objects: logging, the event
loop's handling of writes to closed websockets, the frozen start-up heap, and stopping the loop.
"""

from __future__ import annotations

import asyncio
import gc
import logging

from app.settings import Settings

log = logging.getLogger("app")


def configure_logging(settings: Settings) -> None:
    """Log to stderr at LOG_LEVEL, once per process."""
    logger = logging.getLogger("app")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
        logger.propagate = False
    logger.setLevel(getattr(logging, settings.log_level, logging.INFO))


def freeze_what_every_session_shares() -> None:
    """Import what every session uses, then move everything alive now (modules, classes,
    Panel's, Bokeh's and param's metadata: ~135,000 objects) out of the garbage collector's
    reach: a full collection no longer walks it each time (measured: about 70 ms less per
    full collection)."""
    import importlib

    for module in ("panel.custom", "bokeh.plotting", "app.components.template",
                   "app.components.async_clicker", "app.components.stream_plot",
                   "app.components.job_panel", "app.components.home"):  # fmt: skip
        importlib.import_module(module)
    gc.collect()
    gc.freeze()


def stop_server_loop() -> None:
    from tornado.ioloop import IOLoop

    IOLoop.current().stop()  # what Bokeh's own SIGTERM handler does: the server then stops


def quiet_closed_websocket_writes(loop: asyncio.AbstractEventLoop) -> None:
    """A server push (a monitor tick, a job update) that races a closing tab fails inside
    tornado's write task with WebSocketClosedError, which asyncio then logs as a traceback
    ("Task exception was never retrieved"). The tab is gone and its session is ending; log it
    as one debug line instead, and leave every other error to the default handler."""
    from tornado.iostream import StreamClosedError
    from tornado.websocket import WebSocketClosedError

    previous = loop.get_exception_handler()

    def handler(loop: asyncio.AbstractEventLoop, context: dict) -> None:
        if isinstance(context.get("exception"), WebSocketClosedError | StreamClosedError):
            log.debug("write to a closed websocket dropped")
            return
        if previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handler)
