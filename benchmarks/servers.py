"""What the benchmarks measure, and how they watch it: the app and the guide's examples served
by tests/support/serving, the scaled-out topology by deploy.cluster, each started on first use
in a run and stopped at its end; the server's CPU and garbage-collection pauses over a stretch.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil

from deploy.cluster import running
from tests.support.serving import ROOT, app_command, free_port, script_command, served
from tests.support.waiting import wait_until

BASELINE_SCRIPTS = ["async_callbacks.py", "bokeh_streaming.py", "threaded_queue.py", "bare.py"]

# The app under load: shipped settings but for these. Every load session comes from this one
# machine's loopback address, so the per-client admission of new sessions (a defence against
# floods) and the per-process bound are raised; the burst runs 100 tasks in one session.
APP_ENV = {
    "CLIENT_SESSION_BURST": "100000",
    "CLIENT_SESSIONS_PER_MINUTE": "100000",
    "MAX_SESSIONS": "1000",
    "ASYNC_MAX_TASKS": "200",
}
# Figure 3's many short items: 0.05-s items, and room in the queue for all of them at once.
SHORT_ITEMS_ENV = {"QUEUE_ITEM_SECONDS": "0.05", "QUEUE_MAX_WAITING": "1000",
                   "QUEUE_MAX_PER_SESSION": "1000", "CLUSTER_MAX_JOBS": "1000"}  # fmt: skip


@dataclass(frozen=True)
class Target:
    """A server under test: where its pages are, its process (None for the cluster), and its
    /health addresses (none for the guide's examples, every replica's for the cluster)."""

    name: str
    url: str
    pid: int | None = None
    health: tuple[str, ...] = ()
    logs: tuple[Path, ...] = ()

    def replica_urls(self) -> list[str]:
        """Where each process serves, beside any balancer (from its /health address)."""
        return [url.removesuffix("/health") for url in self.health]


def baseline_command(port: int) -> list[str]:
    """The guide's examples and the bare page, by a plain panel serve; closed sessions are
    checked for every 500 ms and dropped 3 s after their page, as the app's serve command
    does, so both release closed sessions alike."""
    scripts = [ROOT / "benchmarks" / "baseline" / name for name in BASELINE_SCRIPTS]
    flags = ["--check-unused-sessions", "500", "--unused-session-lifetime", "3000"]
    return script_command(scripts, port, flags)


class Servers:
    """The servers of one run, each started when first asked for and stopped by `close`."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self._stack = contextlib.ExitStack()
        self._targets: dict[str, Target] = {}

    def app(self) -> Target:
        return self._get("app", lambda: self._serve("app", app_command(), APP_ENV))

    def baseline(self) -> Target:
        return self._get("baseline", lambda: self._serve("baseline", None, {}))

    def cluster(self) -> Target:
        """The scaled-out topology (deploy.cluster: Dask scheduler, 2 workers, 2 replicas,
        haproxy): its `url` is the balancer's."""
        return self._get("cluster", lambda: self._cluster("cluster", APP_ENV, self._stack))

    @contextlib.contextmanager
    def fresh_cluster(self, env: dict[str, str]) -> Iterator[Target]:
        """A topology of its own, its replicas with these settings too, until the block ends."""
        with contextlib.ExitStack() as stack:
            yield self._cluster("cluster-fresh", {**APP_ENV, **env}, stack)

    @contextlib.contextmanager
    def fresh(self, name: str, env: dict[str, str] | None = None) -> Iterator[Target]:
        """A server of its own ("app" or "baseline"), stopped when the block ends."""
        command = app_command() if name == "app" else None
        with contextlib.ExitStack() as stack:
            yield self._serve(name, command, {**APP_ENV, **(env or {})}, stack, "-fresh")

    def close(self) -> None:
        self._stack.close()
        self._targets.clear()

    def _get(self, name: str, make) -> Target:
        if name not in self._targets:
            self._targets[name] = make()
        return self._targets[name]

    def _serve(self, name: str, command, env: dict, stack=None, suffix: str = "") -> Target:
        port = free_port()
        command = command or baseline_command(port)
        env = env if name == "app" else {}
        log = self.logs / f"{name}{suffix}-{port}.log"
        server = (stack or self._stack).enter_context(served(command, port, log, env))
        health = (f"{server.url}/health",) if name == "app" else ()
        return Target(name, server.url, server.pid, health, (log,))

    def _cluster(self, name: str, env: dict, stack: contextlib.ExitStack) -> Target:
        logs = self.logs / name
        logs.mkdir(exist_ok=True)
        cluster = stack.enter_context(
            running(free_port(), workers=2, replicas=2, logs=logs, replica_env=env)
        )
        replicas = [p for p in cluster.parts if p.name.startswith("replica")]
        health = tuple(f"{p.address}/health" for p in replicas)
        return Target(name, cluster.url, None, health, tuple(p.log for p in replicas))


# -- watching a server -------------------------------------------------------------------------
def health(url: str, window: float | None = None) -> dict:
    """A /health answer, whether "ok" (200) or not ready (503)."""
    query = f"?window={window:g}" if window else ""
    try:
        with urllib.request.urlopen(f"{url}{query}", timeout=10) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as refused:
        if refused.code != 503:
            raise
        return json.loads(refused.read())


def settle(target: Target, sessions: int = 0, timeout: float = 30.0) -> None:
    """Until the app holds at most `sessions` sessions (closed ones are destroyed a second or
    two after their socket closed); at once for a server without /health."""
    if target.health:
        live = lambda: sum(health(url)["sessions"] for url in target.health)  # noqa: E731
        with contextlib.suppress(TimeoutError):  # measured anyway; the figure shows the rest
            wait_until(live, lambda n: n <= sessions, timeout, "the closed sessions to end")


def cpu_seconds(pid: int) -> float:
    """User and system CPU seconds of a process and its children so far."""
    root = psutil.Process(pid)
    total = 0.0
    for process in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            times = process.cpu_times()
            total += times.user + times.system
    return total


class Watch:
    """A server's CPU use (% of one core) and its longest garbage-collection pause (from
    /health's "gc", read every `every` s over overlapping windows) while the block runs."""

    def __init__(self, target: Target, every: float = 10.0, gc: bool = True) -> None:
        self.target, self.every, self.gc = target, every, gc
        self.gc_max_ms: float | None = None
        self.gc_full = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="watch", daemon=True)

    def __enter__(self) -> Watch:
        self._cpu = cpu_seconds(self.target.pid) if self.target.pid else None
        self._started = time.monotonic()
        if self.gc and self.target.health:
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.monotonic() - self._started
        self.cpu_used = cpu_seconds(self.target.pid) - self._cpu if self._cpu is not None else None
        self._done.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def _poll(self) -> None:
        while True:
            stopping = self._done.wait(self.every)
            for url in self.target.health:
                with contextlib.suppress(OSError, ValueError):
                    gc = health(url, min(60.0, self.every + 5))["gc"]
                    self.gc_max_ms = max(self.gc_max_ms or 0.0, gc["max_ms"])
                    self.gc_full = max(self.gc_full, gc["oldest_generation"])
            if stopping:
                return

    def result(self) -> dict:
        cpu = None if self.cpu_used is None else round(100 * self.cpu_used / self.seconds)
        return {"server_cpu_percent": cpu, "gc_max_ms": self.gc_max_ms}
