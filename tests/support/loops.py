"""Running an async body from a synchronous test or tool."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


def run_async(coroutine_function: Callable[[], Awaitable[T]], timeout: float = 120.0) -> T:
    """Run `coroutine_function()` to its end on a loop of its own, in a thread of its own:
    the calling thread may already have a running loop (pytest-playwright's sync API keeps
    one), where asyncio.run would refuse."""

    async def body() -> T:
        return await coroutine_function()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, body()).result(timeout)
