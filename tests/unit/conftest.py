"""Fixtures of the unit tests."""

from __future__ import annotations

import pytest
from queue_helpers import thread_queue


@pytest.fixture
def queue():
    q = thread_queue(2, max_waiting=100, max_per_owner=20).start()
    yield q
    q.shutdown(grace=0.5, timeout=0.5)
