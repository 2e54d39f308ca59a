"""Bounded waits on a condition: the only way a test or a tool here waits for something."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

POLL_SECONDS = 0.05


def wait_until(
    read: Callable[[], T],
    accept: Callable[[T], bool] = bool,
    timeout: float = 10.0,
    what: str = "the condition",
) -> T:
    """Call `read()` until `accept(value)` holds and return that value; fail with the last value
    read after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if accept(value):
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what} did not hold within {timeout} s (last: {value!r})")
        time.sleep(POLL_SECONDS)


def wait_for_value(read: Callable[[], T], expected: T, timeout: float = 10.0) -> T:
    """Wait until `read()` returns `expected`."""
    return wait_until(read, lambda v: v == expected, timeout, f"value == {expected!r}")


async def await_until(
    condition: Callable[[], bool], timeout: float = 10.0, what: str = "the condition"
) -> None:
    """wait_until for a coroutine: the loop runs its other callbacks between the checks."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what} did not hold within {timeout} s")
        await asyncio.sleep(POLL_SECONDS / 5)
