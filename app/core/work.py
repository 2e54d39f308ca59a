"""The kinds of work the threaded-queue page can submit, each cooperative (progress + cancel),
and `JobSpec`, the picklable description of one job that any backend can run: a thread of this
process calls it, a Dask worker process unpickles it and calls it there."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from app.core.jobs import JobContext, Work

# Progress is reported, and cancellation checked, this often: well inside the 0.2 s promise.
STEP_SECONDS = 0.05


class ItemFailed(RuntimeError):
    """The failure the "fails" kind raises on purpose, to show how errors are reported."""


def io_wait(seconds: float) -> Work:
    """An I/O-like wait: the seed's `time.sleep(2)`, in cancellable steps."""

    def work(ctx: JobContext) -> str:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            ctx.sleep(min(STEP_SECONDS, left))
            ctx.progress(1 - max(0.0, deadline - time.monotonic()) / seconds)
        return f"waited {seconds:g} s"

    return work


def compute(seconds: float, size: int = 160) -> Work:
    """Real NumPy work for about `seconds`: matrix products, which release the GIL, so other
    threads (and the server's event loop) keep running while it computes."""

    def work(ctx: JobContext) -> str:
        rng = np.random.default_rng()
        a = rng.standard_normal((size, size))
        products = 0
        start = time.monotonic()
        while (elapsed := time.monotonic() - start) < seconds:
            ctx.check()
            a = np.tanh(a @ a.T / size)
            products += 1
            ctx.progress(elapsed / seconds if seconds else 1.0)
        return f"{products} matrix products"

    return work


def failing(seconds: float) -> Work:
    """Works for a while, then raises: its job fails, and the worker carries on."""

    def work(ctx: JobContext) -> None:
        io_wait(seconds / 2)(ctx)
        raise ItemFailed("this item fails on purpose")

    return work


@dataclass(frozen=True)
class WorkKind:
    """A kind of work offered on the page."""

    name: str
    label: str  # on the page's choice of kind
    short: str  # in the job table
    make: Callable[[float], Work]


WORK_KINDS: dict[str, WorkKind] = {
    kind.name: kind
    for kind in (
        WorkKind("io", "I/O wait (sleeps, like the guide)", "I/O wait", io_wait),
        WorkKind("compute", "Compute (NumPy, releases the GIL)", "Compute", compute),
        WorkKind("fail", "Fails halfway (shows errors)", "Fails halfway", failing),
    )
}


@dataclass(frozen=True)
class JobSpec:
    """One job of a known kind: what crosses a process boundary is this, never a closure."""

    kind: str
    seconds: float

    def __post_init__(self) -> None:
        if self.kind not in WORK_KINDS:
            raise ValueError(f"unknown kind of work {self.kind!r}")

    def __call__(self, ctx: JobContext) -> object:
        return WORK_KINDS[self.kind].make(self.seconds)(ctx)
