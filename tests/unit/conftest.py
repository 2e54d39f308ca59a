"""Fixtures of the unit tests."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
from queue_helpers import WAIT, thread_queue


@pytest.fixture
def queue():
    q = thread_queue(2, max_waiting=100, max_per_owner=20).start()
    yield q
    q.shutdown(grace=0.5, timeout=0.5)


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """An event loop running in a thread of its own, like the server's."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join(WAIT)
    loop.close()
